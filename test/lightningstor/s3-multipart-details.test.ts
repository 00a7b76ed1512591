import { describe, expect, test } from "bun:test";
import {
  AbortMultipartUploadCommand,
  CompleteMultipartUploadCommand,
  CreateMultipartUploadCommand,
  GetObjectCommand,
  HeadObjectCommand,
  ListPartsCommand,
  PutObjectCommand,
  UploadPartCommand,
  UploadPartCopyCommand,
} from "@aws-sdk/client-s3";
import { createHash, randomBytes } from "node:crypto";
import { chunkFiles as chunkFilesOf, s3Error, sharedGateway } from "../helpers/s3-gateway.ts";
import { signedFetch } from "../helpers/sign.ts";

/** The multipart details S3 conformance suites check (S3 API Reference: CompleteMultipartUpload, UploadPart, UploadPartCopy, GetObject). */
const shared = sharedGateway("mpd");
const MiB = 1024 * 1024;
const md5Hex = (data: Uint8Array) => createHash("md5").update(data).digest("hex");
const chunkFiles = () => chunkFilesOf(shared.gw);

/** A request body that sends `first`, then waits for `finish()` to send `rest` and end. */
function heldBody(first: Uint8Array, rest: Uint8Array): { body: ReadableStream<Uint8Array>; finish: () => void } {
  let finish!: () => void;
  const released = new Promise<void>((resolve) => (finish = resolve));
  const body = new ReadableStream<Uint8Array>({
    async start(controller) {
      controller.enqueue(first);
      await released;
      if (rest.length > 0) controller.enqueue(rest);
      controller.close();
    },
  });
  return { body, finish };
}

/** A two-part upload of `key` (5 MiB + 1 KiB), not yet completed. */
async function uploadTwoParts(Key: string) {
  const { UploadId } = await shared.s3.send(new CreateMultipartUploadCommand({ Bucket: "mpd", Key }));
  const datas = [randomBytes(5 * MiB), randomBytes(1024)];
  const parts = [];
  for (const [i, Body] of datas.entries()) parts.push({ PartNumber: i + 1, ETag: (await shared.s3.send(new UploadPartCommand({ Bucket: "mpd", Key, UploadId, PartNumber: i + 1, Body }))).ETag! });
  return { UploadId: UploadId!, datas, parts };
}

describe("multipart details", () => {
  test("completing an upload again with the same parts is 200 with the object's ETag; other parts are NoSuchUpload", async () => {
    const { UploadId, parts } = await uploadTwoParts("twice");
    const complete = (Parts: typeof parts) => shared.s3.send(new CompleteMultipartUploadCommand({ Bucket: "mpd", Key: "twice", UploadId, MultipartUpload: { Parts } }));
    const first = await complete(parts);
    const again = await complete(parts);
    expect(again.$metadata.httpStatusCode).toBe(200);
    expect(again.ETag).toBe(first.ETag);
    expect(await s3Error(complete(parts.slice(0, 1)))).toEqual({ name: "NoSuchUpload", status: 404 });
    // Once the key holds another object, the upload is gone for good.
    await shared.s3.send(new PutObjectCommand({ Bucket: "mpd", Key: "twice", Body: "other" }));
    expect(await s3Error(complete(parts))).toEqual({ name: "NoSuchUpload", status: 404 });
  });

  test("when one part number is uploaded twice at once, the upload that finishes last is the part", async () => {
    const { UploadId } = await shared.s3.send(new CreateMultipartUploadCommand({ Bucket: "mpd", Key: "race" }));
    const [slow, fast] = [randomBytes(MiB), randomBytes(MiB)];
    const before = chunkFiles().length;
    // The slow upload starts first and sends half its bytes, the fast one runs whole, then the slow one ends.
    const { body, finish } = heldBody(slow.subarray(0, MiB / 2), slow.subarray(MiB / 2));
    const path = `/mpd/race?partNumber=1&uploadId=${UploadId}`;
    const slowDone = signedFetch(shared.gw.endpoint, shared.gw.credentials, { method: "PUT", path, body, payloadHash: "UNSIGNED-PAYLOAD" });
    const fastDone = await shared.s3.send(new UploadPartCommand({ Bucket: "mpd", Key: "race", UploadId, PartNumber: 1, Body: fast }));
    expect(fastDone.ETag).toBe(`"${md5Hex(fast)}"`);
    finish();
    const slowResponse = await slowDone;
    expect(slowResponse.status).toBe(200);
    expect(slowResponse.headers.get("etag")).toBe(`"${md5Hex(slow)}"`);
    const listed = await shared.s3.send(new ListPartsCommand({ Bucket: "mpd", Key: "race", UploadId }));
    expect(listed.Parts?.map((p) => p.ETag)).toEqual([`"${md5Hex(slow)}"`]);
    // The part the fast upload stored is gone with it: one part, one chunk.
    expect(chunkFiles().length).toBe(before + 1);
    await shared.s3.send(new CompleteMultipartUploadCommand({ Bucket: "mpd", Key: "race", UploadId, MultipartUpload: { Parts: [{ PartNumber: 1, ETag: `"${md5Hex(slow)}"` }] } }));
    const got = await shared.s3.send(new GetObjectCommand({ Bucket: "mpd", Key: "race" }));
    expect(Buffer.from(await got.Body!.transformToByteArray()).equals(slow)).toBe(true);
  });

  test("a part that finishes after its upload was aborted is NoSuchUpload and leaves no chunks", async () => {
    const { UploadId } = await shared.s3.send(new CreateMultipartUploadCommand({ Bucket: "mpd", Key: "late" }));
    const before = chunkFiles().length;
    const { body, finish } = heldBody(randomBytes(1024), new Uint8Array(0));
    const late = signedFetch(shared.gw.endpoint, shared.gw.credentials, { method: "PUT", path: `/mpd/late?partNumber=1&uploadId=${UploadId}`, body, payloadHash: "UNSIGNED-PAYLOAD" });
    await shared.s3.send(new AbortMultipartUploadCommand({ Bucket: "mpd", Key: "late", UploadId }));
    finish();
    const response = await late;
    expect(response.status).toBe(404);
    expect(await response.text()).toContain("<Code>NoSuchUpload</Code>");
    expect(chunkFiles().length).toBe(before);
  });

  test("UploadPartCopy with x-amz-copy-source-range beyond the source is 416 InvalidRange", async () => {
    await shared.s3.send(new PutObjectCommand({ Bucket: "mpd", Key: "source", Body: Buffer.alloc(100, 7) }));
    const { UploadId } = await shared.s3.send(new CreateMultipartUploadCommand({ Bucket: "mpd", Key: "copied" }));
    const copy = (CopySourceRange: string) => shared.s3.send(new UploadPartCopyCommand({ Bucket: "mpd", Key: "copied", UploadId, PartNumber: 1, CopySource: "mpd/source", CopySourceRange }));
    expect(await s3Error(copy("bytes=0-100"))).toEqual({ name: "InvalidRange", status: 416 });
    expect(await s3Error(copy("bytes=200-300"))).toEqual({ name: "InvalidRange", status: 416 });
    expect((await copy("bytes=0-99")).CopyPartResult?.ETag).toBe(`"${md5Hex(Buffer.alloc(100, 7))}"`);
  });

  test("GET and HEAD ?partNumber=N give that part (206, its range, x-amz-mp-parts-count); other objects have only part 1", async () => {
    const { UploadId, datas, parts } = await uploadTwoParts("parted");
    await shared.s3.send(new CompleteMultipartUploadCommand({ Bucket: "mpd", Key: "parted", UploadId, MultipartUpload: { Parts: parts } }));
    const total = datas[0]!.length + datas[1]!.length;
    const second = await shared.s3.send(new GetObjectCommand({ Bucket: "mpd", Key: "parted", PartNumber: 2 }));
    expect(second.$metadata.httpStatusCode).toBe(206);
    expect(second.PartsCount).toBe(2);
    expect(second.ContentRange).toBe(`bytes ${5 * MiB}-${total - 1}/${total}`);
    expect(Buffer.from(await second.Body!.transformToByteArray()).equals(datas[1]!)).toBe(true);
    const head = await shared.s3.send(new HeadObjectCommand({ Bucket: "mpd", Key: "parted", PartNumber: 1 }));
    expect([head.$metadata.httpStatusCode, head.PartsCount, head.ContentLength]).toEqual([206, 2, 5 * MiB]);
    expect(await s3Error(shared.s3.send(new GetObjectCommand({ Bucket: "mpd", Key: "parted", PartNumber: 3 })))).toEqual({ name: "InvalidPartNumber", status: 416 });

    await shared.s3.send(new PutObjectCommand({ Bucket: "mpd", Key: "single", Body: "whole" }));
    const whole = await shared.s3.send(new GetObjectCommand({ Bucket: "mpd", Key: "single", PartNumber: 1 }));
    expect(await whole.Body!.transformToString()).toBe("whole");
    expect(whole.PartsCount).toBeUndefined();
    expect(await s3Error(shared.s3.send(new GetObjectCommand({ Bucket: "mpd", Key: "single", PartNumber: 2 })))).toEqual({ name: "InvalidPartNumber", status: 416 });
  });

  test("a multipart object's composite checksum (…-N) comes back on GET and HEAD with checksum mode", async () => {
    const { UploadId } = await shared.s3.send(new CreateMultipartUploadCommand({ Bucket: "mpd", Key: "summed", ChecksumAlgorithm: "SHA256" }));
    const datas = [randomBytes(5 * MiB), randomBytes(10)];
    const Parts = [];
    for (const [i, Body] of datas.entries()) {
      const out = await shared.s3.send(new UploadPartCommand({ Bucket: "mpd", Key: "summed", UploadId, PartNumber: i + 1, Body, ChecksumAlgorithm: "SHA256" }));
      Parts.push({ PartNumber: i + 1, ETag: out.ETag, ChecksumSHA256: out.ChecksumSHA256 });
    }
    const sha = (b: Uint8Array) => createHash("sha256").update(b).digest();
    const expected = `${createHash("sha256").update(Buffer.concat(datas.map(sha))).digest("base64")}-2`;
    expect((await shared.s3.send(new CompleteMultipartUploadCommand({ Bucket: "mpd", Key: "summed", UploadId, MultipartUpload: { Parts } }))).ChecksumSHA256).toBe(expected);
    const got = await shared.s3.send(new GetObjectCommand({ Bucket: "mpd", Key: "summed", ChecksumMode: "ENABLED" }));
    expect(got.ChecksumSHA256).toBe(expected);
    expect(Buffer.from(await got.Body!.transformToByteArray()).equals(Buffer.concat(datas))).toBe(true);
    expect((await shared.s3.send(new HeadObjectCommand({ Bucket: "mpd", Key: "summed", ChecksumMode: "ENABLED" }))).ChecksumSHA256).toBe(expected);
  });
});
