import { describe, expect, test } from "bun:test";
import { decodeAwsChunked, type ChunkSigning } from "./aws-chunked.ts";
import { scopeOf, signingKey } from "./sigv4.ts";

// The worked example of the S3 API Reference, "Transferring Payload in Multiple Chunks":
// 65536 + 1024 bytes of "a", signed with the example key, seed signature from the headers.
const signing: ChunkSigning = {
  key: signingKey("wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", "20130524", "us-east-1", "s3"),
  amzDate: "20130524T000000Z",
  scope: scopeOf({ date: "20130524", region: "us-east-1", service: "s3" }),
  seedSignature: "4f232c4386841ef735655705268965c44a0e4690baa4adea153f7db9fa80a0a9",
};
const exampleBody = Buffer.from(
  "10000;chunk-signature=ad80c730a21e5b8d04586a2213dd63b9a0e99e0e2307b0ade35a65485a288648\r\n" +
    "a".repeat(65536) +
    "\r\n400;chunk-signature=0055627c9e194cb4542bae2aa5492e3c1575bbb81b612b7d234b86a503ef5497\r\n" +
    "a".repeat(1024) +
    "\r\n0;chunk-signature=b6c6ea8a5354eaf15b3cb7646744f4275b71ea724fed81ceb9323e279d449df9\r\n\r\n",
);

/** Feeds a body in pieces of `step` bytes, as a network would. */
async function* pieces(body: Buffer, step: number) {
  for (let at = 0; at < body.length; at += step) yield body.subarray(at, at + step);
}

async function decode(body: Buffer, step: number, options: Parameters<typeof decodeAwsChunked>[1]) {
  const parts: Uint8Array[] = [];
  const generator = decodeAwsChunked(pieces(body, step), options);
  for (;;) {
    const next = await generator.next();
    if (next.done) return { data: Buffer.concat(parts), trailers: next.value };
    parts.push(next.value);
  }
}

describe("aws-chunked decoding", () => {
  test("AWS's signed example decodes to 66560 bytes with every chunk signature verified", async () => {
    expect(exampleBody.length).toBe(66824); // the example's Content-Length
    for (const step of [1, 7, 4096, 1 << 20]) {
      const { data } = await decode(exampleBody, step, { signing, decodedLength: 66560 });
      expect(data.equals(Buffer.alloc(66560, "a"))).toBe(true);
    }
  });

  test("a changed byte, a changed signature or a wrong decoded length is refused", async () => {
    const tampered = Buffer.from(exampleBody);
    tampered[100] = "b".charCodeAt(0);
    await expect(decode(tampered, 4096, { signing })).rejects.toMatchObject({ code: "SignatureDoesNotMatch" });
    const badSig = Buffer.from(exampleBody.toString("latin1").replace("ad80c730", "ad80c731"), "latin1");
    await expect(decode(badSig, 4096, { signing })).rejects.toMatchObject({ code: "SignatureDoesNotMatch" });
    await expect(decode(exampleBody, 4096, { signing, decodedLength: 66561 })).rejects.toMatchObject({ code: "IncompleteBody" });
  });

  test("unsigned chunks with a checksum trailer (what current SDKs send) decode and return the trailer", async () => {
    const body = Buffer.from("5\r\nhello\r\n6\r\n world\r\n0\r\nx-amz-checksum-crc32:DUoRhQ==\r\n\r\n");
    const { data, trailers } = await decode(body, 3, { decodedLength: 11 });
    expect(data.toString()).toBe("hello world");
    expect(trailers).toEqual({ "x-amz-checksum-crc32": "DUoRhQ==" });
  });

  test("truncated bodies and bad framing are IncompleteBody", async () => {
    for (const bad of ["5\r\nhel", "zz\r\nhello\r\n0\r\n\r\n", "5\r\nhelloXX0\r\n\r\n", "5\r\nhello\r\n0\r\n\r\nextra"]) {
      await expect(decode(Buffer.from(bad), 2, {})).rejects.toMatchObject({ code: "IncompleteBody" });
    }
  });
});
