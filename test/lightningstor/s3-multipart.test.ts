import { describe, expect, test } from "bun:test";
import {
  AbortMultipartUploadCommand,
  CompleteMultipartUploadCommand,
  CreateMultipartUploadCommand,
  GetObjectCommand,
  HeadObjectCommand,
  ListMultipartUploadsCommand,
  ListPartsCommand,
  UploadPartCommand,
} from "@aws-sdk/client-s3";
import { Upload } from "@aws-sdk/lib-storage";
import { createHash, randomBytes } from "node:crypto";
import { chunkFiles as chunkFilesOf, s3Error as s3ErrorOf, sharedGateway } from "../helpers/s3-gateway.ts";

const s3Error = async (promise: Promise<unknown>) => (await s3ErrorOf(promise)).name;

const shared = sharedGateway("mpu");

const MiB = 1024 * 1024;
const md5 = (b: Uint8Array) => createHash("md5").update(b).digest();
const chunkFiles = () => chunkFilesOf(shared.gw);

describe("multipart uploads", () => {
  test("lib-storage Upload of 23 MiB in 5 MiB parts reads back identically with an md5-of-md5s-N ETag", async () => {
    const body = randomBytes(23 * MiB + 7);
    const result = await new Upload({ client: shared.s3, params: { Bucket: "mpu", Key: "big.bin", Body: body, ContentType: "application/x-big" }, partSize: 5 * MiB, queueSize: 4 }).done();
    const parts = Math.ceil(body.length / (5 * MiB));
    const expected = createHash("md5")
      .update(Buffer.concat(Array.from({ length: parts }, (_, i) => md5(body.subarray(i * 5 * MiB, (i + 1) * 5 * MiB)))))
      .digest("hex");
    expect(result.ETag).toBe(`"${expected}-${parts}"`);
    const got = await shared.s3.send(new GetObjectCommand({ Bucket: "mpu", Key: "big.bin" }));
    expect(Buffer.from(await got.Body!.transformToByteArray()).equals(body)).toBe(true);
    expect(got.ContentType).toBe("application/x-big");
  });

  test("Complete checks order, ETags and the 5 MiB minimum; ListParts and ListMultipartUploads show progress", async () => {
    const { UploadId } = await shared.s3.send(new CreateMultipartUploadCommand({ Bucket: "mpu", Key: "manual" }));
    const small = await shared.s3.send(new UploadPartCommand({ Bucket: "mpu", Key: "manual", UploadId, PartNumber: 1, Body: Buffer.alloc(1024, 1) }));
    const last = await shared.s3.send(new UploadPartCommand({ Bucket: "mpu", Key: "manual", UploadId, PartNumber: 2, Body: Buffer.alloc(10, 2) }));
    const listed = await shared.s3.send(new ListPartsCommand({ Bucket: "mpu", Key: "manual", UploadId }));
    expect(listed.Parts?.map((p) => [p.PartNumber, p.Size])).toEqual([[1, 1024], [2, 10]]);
    const uploads = await shared.s3.send(new ListMultipartUploadsCommand({ Bucket: "mpu" }));
    expect(uploads.Uploads?.map((u) => u.Key)).toContain("manual");

    const complete = (parts: { PartNumber: number; ETag?: string }[]) =>
      shared.s3.send(new CompleteMultipartUploadCommand({ Bucket: "mpu", Key: "manual", UploadId, MultipartUpload: { Parts: parts } }));
    expect(await s3Error(complete([{ PartNumber: 2, ETag: last.ETag }, { PartNumber: 1, ETag: small.ETag }]))).toBe("InvalidPartOrder");
    expect(await s3Error(complete([{ PartNumber: 1, ETag: '"0000"' }]))).toBe("InvalidPart");
    expect(await s3Error(complete([{ PartNumber: 1, ETag: small.ETag }, { PartNumber: 2, ETag: last.ETag }]))).toBe("EntityTooSmall");
    // A single small part is fine: it is also the last.
    await complete([{ PartNumber: 1, ETag: small.ETag }]);
    const got = await shared.s3.send(new GetObjectCommand({ Bucket: "mpu", Key: "manual" }));
    expect(Buffer.from(await got.Body!.transformToByteArray()).equals(Buffer.alloc(1024, 1))).toBe(true);
    expect(await s3Error(shared.s3.send(new ListPartsCommand({ Bucket: "mpu", Key: "manual", UploadId })))).toBe("NoSuchUpload");
  });

  test("parts' CRC32s make the object's composite checksum, shown by ListParts, Complete and HeadObject", async () => {
    const [Bucket, Key] = ["mpu", "summed"];
    const { UploadId } = await shared.s3.send(new CreateMultipartUploadCommand({ Bucket, Key, ChecksumAlgorithm: "CRC32" }));
    const datas = [randomBytes(5 * MiB), randomBytes(1000)];
    const uploaded = [];
    for (const [i, Body] of datas.entries()) uploaded.push(await shared.s3.send(new UploadPartCommand({ Bucket, Key, UploadId, PartNumber: i + 1, Body, ChecksumAlgorithm: "CRC32" })));
    const crc32 = (data: Uint8Array) => {
      const out = Buffer.alloc(4);
      out.writeUInt32BE(Bun.hash.crc32(data) >>> 0);
      return out;
    };
    const partSums = datas.map((d) => crc32(d).toString("base64"));
    expect(uploaded.map((u) => u.ChecksumCRC32)).toEqual(partSums);
    expect((await shared.s3.send(new ListPartsCommand({ Bucket, Key, UploadId }))).Parts?.map((p) => p.ChecksumCRC32)).toEqual(partSums);

    const parts = uploaded.map((u, i) => ({ PartNumber: i + 1, ETag: u.ETag, ChecksumCRC32: u.ChecksumCRC32 }));
    const complete = (Parts: typeof parts) => shared.s3.send(new CompleteMultipartUploadCommand({ Bucket, Key, UploadId, MultipartUpload: { Parts } }));
    expect(await s3Error(complete([{ ...parts[0]!, ChecksumCRC32: "AAAAAA==" }, parts[1]!]))).toBe("InvalidPart");
    const expected = `${crc32(Buffer.concat(datas.map(crc32))).toString("base64")}-2`;
    expect((await complete(parts)).ChecksumCRC32).toBe(expected);
    const head = await shared.s3.send(new HeadObjectCommand({ Bucket, Key, ChecksumMode: "ENABLED" }));
    expect(head.ChecksumCRC32).toBe(expected);
    expect(head.ChecksumType).toBe("COMPOSITE");
    const got = await shared.s3.send(new GetObjectCommand({ Bucket, Key }));
    expect(Buffer.from(await got.Body!.transformToByteArray()).equals(Buffer.concat(datas))).toBe(true);
  });

  test("an aborted upload leaves no object and no chunks", async () => {
    const before = chunkFiles().length;
    const { UploadId } = await shared.s3.send(new CreateMultipartUploadCommand({ Bucket: "mpu", Key: "aborted" }));
    await shared.s3.send(new UploadPartCommand({ Bucket: "mpu", Key: "aborted", UploadId, PartNumber: 1, Body: randomBytes(MiB) }));
    expect(chunkFiles().length).toBe(before + 1);
    await shared.s3.send(new AbortMultipartUploadCommand({ Bucket: "mpu", Key: "aborted", UploadId }));
    expect(chunkFiles().length).toBe(before);
    expect(await s3Error(shared.s3.send(new GetObjectCommand({ Bucket: "mpu", Key: "aborted" })))).toBe("NoSuchKey");
    expect(await s3Error(shared.s3.send(new UploadPartCommand({ Bucket: "mpu", Key: "aborted", UploadId, PartNumber: 1, Body: "x" })))).toBe("NoSuchUpload");
  });
});
