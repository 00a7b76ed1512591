import { beforeAll, describe, expect, test } from "bun:test";
import { PutObjectCommand } from "@aws-sdk/client-s3";
import { XMLParser } from "fast-xml-parser";
import { sharedGateway } from "../helpers/s3-gateway.ts";
import { signedFetch } from "../helpers/sign.ts";

/** Listing as it is on the wire (raw signed requests: the SDK would hide NextMarker's form and decode keys). */
const shared = sharedGateway("lst");
const keys = ["a/1", "a/2", "b/1", "c", "d/x", "sp ace/é+%?#&<k>"];
beforeAll(async () => {
  for (const Key of keys) await shared.s3.send(new PutObjectCommand({ Bucket: "lst", Key, Body: "x" }));
});

const parser = new XMLParser({ parseTagValue: false, isArray: (name) => name === "Contents" || name === "CommonPrefixes" });
type Listing = {
  Prefix?: string;
  Delimiter?: string;
  Marker?: string;
  NextMarker?: string;
  StartAfter?: string;
  IsTruncated: string;
  Contents?: { Key: string; Owner?: { ID: string; DisplayName: string } }[];
  CommonPrefixes?: { Prefix: string }[];
};
async function list(query: string): Promise<Listing> {
  const res = await signedFetch(shared.gw.endpoint, shared.gw.credentials, { method: "GET", path: `/lst?${query}` });
  expect(res.status).toBe(200);
  return parser.parse(await res.text()).ListBucketResult;
}
const entries = (page: Listing) => [...(page.Contents ?? []).map((c) => c.Key), ...(page.CommonPrefixes ?? []).map((p) => p.Prefix)];

describe("ListObjects on the wire", () => {
  test("v1 NextMarker is the last common prefix or key returned, and paging by it visits each entry once", async () => {
    const seen: string[] = [];
    const markers: string[] = [];
    let marker: string | undefined = "";
    while (marker !== undefined) {
      const page = await list(`delimiter=%2F&max-keys=1&marker=${encodeURIComponent(marker)}`);
      seen.push(...entries(page));
      marker = page.IsTruncated === "true" ? page.NextMarker : undefined;
      if (marker !== undefined) markers.push(marker);
    }
    expect(seen).toEqual(["a/", "b/", "c", "d/", "sp ace/"]);
    expect(markers).toEqual(["a/", "b/", "c", "d/"]);
  });

  test("encoding-type=url encodes Prefix, Delimiter, Marker, NextMarker, Key and CommonPrefixes in v1", async () => {
    const page = await list(`encoding-type=url&prefix=${encodeURIComponent("sp ace")}&delimiter=${encodeURIComponent("é")}&max-keys=1&marker=${encodeURIComponent("sp a")}`);
    expect(page.Prefix).toBe("sp%20ace");
    expect(page.Delimiter).toBe("%C3%A9");
    expect(page.Marker).toBe("sp%20a");
    expect(page.IsTruncated).toBe("false");
    expect(page.CommonPrefixes?.map((p) => p.Prefix)).toEqual(["sp%20ace/%C3%A9"]);
    const keysPage = await list(`encoding-type=url&prefix=${encodeURIComponent("sp ace/")}`);
    expect(keysPage.Contents?.map((c) => c.Key)).toEqual(["sp%20ace/%C3%A9%2B%25%3F%23%26%3Ck%3E"]);
    const truncated = await list("encoding-type=url&delimiter=%2F&max-keys=4");
    expect(truncated.NextMarker).toBe("d/");
    const spaced = await list("encoding-type=url&delimiter=%2F&max-keys=5&prefix=sp");
    expect(spaced.CommonPrefixes?.map((p) => p.Prefix)).toEqual(["sp%20ace/"]);
  });

  test("encoding-type=url encodes StartAfter and Key in v2", async () => {
    const page = await list(`list-type=2&encoding-type=url&start-after=${encodeURIComponent("d/x")}`);
    expect(page.StartAfter).toBe("d/x");
    expect(page.Contents?.map((c) => c.Key)).toEqual(["sp%20ace/%C3%A9%2B%25%3F%23%26%3Ck%3E"]);
    const spaced = await list(`list-type=2&encoding-type=url&start-after=${encodeURIComponent("sp a")}`);
    expect(spaced.StartAfter).toBe("sp%20a");
  });

  test("v1 always names each key's Owner; v2 only with fetch-owner=true", async () => {
    const owner = { ID: shared.gw.credentials.accessKeyId, DisplayName: shared.gw.credentials.accessKeyId };
    expect((await list("prefix=c")).Contents?.map((c) => c.Owner)).toEqual([owner]);
    expect((await list("list-type=2&prefix=c")).Contents?.map((c) => c.Owner)).toEqual([undefined]);
    expect((await list("list-type=2&prefix=c&fetch-owner=true")).Contents?.map((c) => c.Owner)).toEqual([owner]);
  });
});
