import { describe, expect, test } from "bun:test";
import { CreateMultipartUploadCommand, GetObjectCommand, ListObjectsV2Command, PutObjectCommand, UploadPartCommand } from "@aws-sdk/client-s3";
import { createHash, randomBytes } from "node:crypto";
import { sharedGateway } from "../helpers/s3-gateway.ts";
import { signedFetch } from "../helpers/sign.ts";

/** XML request bodies exactly as Go's encoding/xml writes them (rclone, restic, minio-go…), sent raw. */
const shared = sharedGateway("goxml");
const send = (request: Parameters<typeof signedFetch>[2]) => signedFetch(shared.gw.endpoint, shared.gw.credentials, request);
const MiB = 1024 * 1024;

/** xml.EscapeText: `"` → &#34;, `'` → &#39;, tab → &#x9;, newline → &#xA;, CR → &#xD;; non-ASCII as UTF-8. */
function goEscape(text: string): string {
  const table: Record<string, string> = { '"': "&#34;", "'": "&#39;", "&": "&amp;", "<": "&lt;", ">": "&gt;", "\t": "&#x9;", "\n": "&#xA;", "\r": "&#xD;" };
  return [...text].map((c) => table[c] ?? c).join("");
}
const NS = 'xmlns="http://s3.amazonaws.com/doc/2006-03-01/"';

describe("XML request bodies as Go clients send them", () => {
  test("CompleteMultipartUpload with &#34;-quoted ETags completes the upload", async () => {
    const s3 = shared.s3;
    const [Bucket, Key] = ["goxml", "multi.bin"];
    const { UploadId } = await s3.send(new CreateMultipartUploadCommand({ Bucket, Key }));
    const datas = [randomBytes(5 * MiB), randomBytes(1234)];
    const etags: string[] = [];
    for (const [i, Body] of datas.entries()) etags.push((await s3.send(new UploadPartCommand({ Bucket, Key, UploadId, PartNumber: i + 1, Body }))).ETag!);
    const body = `<CompleteMultipartUpload ${NS}>${etags.map((e, i) => `<Part><ETag>${goEscape(e)}</ETag><PartNumber>${i + 1}</PartNumber></Part>`).join("")}</CompleteMultipartUpload>`;
    expect(body).toContain("&#34;");
    const res = await send({ method: "POST", path: `/${Bucket}/${Key}?uploadId=${UploadId}`, body });
    expect(res.status).toBe(200);
    expect(await res.text()).toMatch(/<ETag>(&quot;|")[0-9a-f]{32}-2(&quot;|")<\/ETag>/);
    const got = await s3.send(new GetObjectCommand({ Bucket, Key }));
    expect(Buffer.from(await got.Body!.transformToByteArray()).equals(Buffer.concat(datas))).toBe(true);
  });

  test("DeleteObjects with keys holding quotes, &, <, tab, newline, non-ASCII and U+10FFFF deletes exactly those keys", async () => {
    const keys = ['say "hi"', "it's", "a&b", "x<y>z", "tab\there", "line\nbreak", "naïve/日本語", "max\u{10FFFF}"];
    for (const Key of [...keys, "keep"]) await shared.s3.send(new PutObjectCommand({ Bucket: "goxml", Key: `del/${Key}`, Body: "x" }));
    const body = `<Delete ${NS}>${keys.map((k) => `<Object><Key>${goEscape(`del/${k}`)}</Key></Object>`).join("")}<Quiet>false</Quiet></Delete>`;
    const res = await send({ method: "POST", path: "/goxml?delete", body });
    expect(res.status).toBe(200);
    expect(await res.text()).not.toContain("<Error>");
    const left = await shared.s3.send(new ListObjectsV2Command({ Bucket: "goxml", Prefix: "del/" }));
    expect(left.Contents?.map((c) => c.Key)).toEqual(["del/keep"]);
  });

  test("a DOCTYPE, an undefined entity or a body that is not XML is MalformedXML, and nothing is deleted", async () => {
    await shared.s3.send(new PutObjectCommand({ Bucket: "goxml", Key: "victim", Body: "x" }));
    for (const body of [
      '<!DOCTYPE Delete [<!ENTITY v "victim">]><Delete><Object><Key>&v;</Key></Object></Delete>',
      "<Delete><Object><Key>&nbsp;victim</Key></Object></Delete>",
      "<Delete><Object><Key>victim</Key></Object>",
      "victim",
    ]) {
      const res = await send({ method: "POST", path: "/goxml?delete", body });
      expect(res.status).toBe(400);
      expect(await res.text()).toContain("<Code>MalformedXML</Code>");
    }
    expect((await shared.s3.send(new ListObjectsV2Command({ Bucket: "goxml", Prefix: "victim" }))).KeyCount).toBe(1);
  });

  test("an XML body that does not match the signed x-amz-content-sha256 is refused and deletes nothing", async () => {
    await shared.s3.send(new PutObjectCommand({ Bucket: "goxml", Key: "signed/k", Body: "x" }));
    const signedFor = `<Delete ${NS}><Object><Key>signed/other</Key></Object></Delete>`;
    const sent = `<Delete ${NS}><Object><Key>signed/k</Key></Object></Delete>`;
    const res = await send({ method: "POST", path: "/goxml?delete", body: sent, payloadHash: createHash("sha256").update(signedFor).digest("hex") });
    expect(res.status).toBe(400);
    expect(await res.text()).toContain("<Code>XAmzContentSHA256Mismatch</Code>");
    expect((await shared.s3.send(new ListObjectsV2Command({ Bucket: "goxml", Prefix: "signed/" }))).KeyCount).toBe(1);
  });

  test("an XML body's Content-MD5 is checked: malformed is InvalidDigest, wrong is BadDigest, right is accepted", async () => {
    await shared.s3.send(new PutObjectCommand({ Bucket: "goxml", Key: "md5/k", Body: "x" }));
    const body = `<Delete ${NS}><Object><Key>md5/k</Key></Object></Delete>`;
    const post = (md5: string) => send({ method: "POST", path: "/goxml?delete", body, headers: { "content-md5": md5 } });
    expect(await (await post("AAAA")).text()).toContain("<Code>InvalidDigest</Code>");
    expect(await (await post("AAAAAAAAAAAAAAAAAAAAAA==")).text()).toContain("<Code>BadDigest</Code>");
    expect((await shared.s3.send(new ListObjectsV2Command({ Bucket: "goxml", Prefix: "md5/" }))).KeyCount).toBe(1);
    expect((await post(createHash("md5").update(body).digest("base64"))).status).toBe(200);
    expect((await shared.s3.send(new ListObjectsV2Command({ Bucket: "goxml", Prefix: "md5/" }))).KeyCount).toBe(0);
  });
});
