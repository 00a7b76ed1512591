import { describe, expect, test } from "bun:test";
import {
  CompleteMultipartUploadCommand,
  CopyObjectCommand,
  CreateMultipartUploadCommand,
  GetObjectCommand,
  ListPartsCommand,
  PutObjectCommand,
  UploadPartCommand,
} from "@aws-sdk/client-s3";
import { randomBytes } from "node:crypto";
import { chunkFiles as chunkFilesOf, s3Error, sharedGateway } from "../helpers/s3-gateway.ts";
import { signedFetch } from "../helpers/sign.ts";

/** Conditional writes (S3 User Guide, "Conditional writes"): If-None-Match: * and If-Match on PUT, Complete and Copy. */
const shared = sharedGateway("cond");
const send = (request: Parameters<typeof signedFetch>[2]) => signedFetch(shared.gw.endpoint, shared.gw.credentials, request);
const text = async (Key: string) => (await (await shared.s3.send(new GetObjectCommand({ Bucket: "cond", Key }))).Body!.transformToString());
const chunkFiles = () => chunkFilesOf(shared.gw);

describe("conditional writes", () => {
  test("PutObject: If-None-Match: * creates once, then 412; If-Match replaces only the version named", async () => {
    const put = (Body: string, condition: { IfNoneMatch?: string; IfMatch?: string }) => shared.s3.send(new PutObjectCommand({ Bucket: "cond", Key: "p", Body, ...condition }));
    const first = await put("one", { IfNoneMatch: "*" });
    expect(await s3Error(put("two", { IfNoneMatch: "*" }))).toEqual({ name: "PreconditionFailed", status: 412 });
    expect(await s3Error(put("two", { IfMatch: '"0123456789abcdef0123456789abcdef"' }))).toEqual({ name: "PreconditionFailed", status: 412 });
    expect(await text("p")).toBe("one");
    await put("three", { IfMatch: first.ETag! });
    expect(await text("p")).toBe("three");
    expect(await s3Error(shared.s3.send(new PutObjectCommand({ Bucket: "cond", Key: "absent", Body: "x", IfMatch: first.ETag! })))).toEqual({ name: "PreconditionFailed", status: 412 });
  });

  test("concurrent If-None-Match: * PUTs of one key: exactly one wins, the others are 412 and leave no chunks", async () => {
    const before = chunkFiles().length;
    const bodies = Array.from({ length: 8 }, () => randomBytes(1024 * 1024));
    const results = await Promise.all(bodies.map((body) => send({ method: "PUT", path: "/cond/race", body, headers: { "if-none-match": "*" } })));
    const statuses = results.map((r) => r.status).sort();
    expect(statuses).toEqual([200, 412, 412, 412, 412, 412, 412, 412]);
    const winner = bodies[results.findIndex((r) => r.status === 200)]!;
    const got = await shared.s3.send(new GetObjectCommand({ Bucket: "cond", Key: "race" }));
    expect(Buffer.from(await got.Body!.transformToByteArray()).equals(winner)).toBe(true);
    expect(chunkFiles().length).toBe(before + 1);
  });

  test("CompleteMultipartUpload honours If-None-Match: * and If-Match; a refused upload can still be completed", async () => {
    await shared.s3.send(new PutObjectCommand({ Bucket: "cond", Key: "m", Body: "existing" }));
    const { UploadId } = await shared.s3.send(new CreateMultipartUploadCommand({ Bucket: "cond", Key: "m" }));
    const { ETag } = await shared.s3.send(new UploadPartCommand({ Bucket: "cond", Key: "m", UploadId, PartNumber: 1, Body: "multipart" }));
    const complete = (condition: { IfNoneMatch?: string; IfMatch?: string }) =>
      shared.s3.send(new CompleteMultipartUploadCommand({ Bucket: "cond", Key: "m", UploadId, MultipartUpload: { Parts: [{ PartNumber: 1, ETag }] }, ...condition }));
    expect(await s3Error(complete({ IfNoneMatch: "*" }))).toEqual({ name: "PreconditionFailed", status: 412 });
    expect(await s3Error(complete({ IfMatch: '"0123456789abcdef0123456789abcdef"' }))).toEqual({ name: "PreconditionFailed", status: 412 });
    expect((await shared.s3.send(new ListPartsCommand({ Bucket: "cond", Key: "m", UploadId }))).Parts?.length).toBe(1);
    expect(await text("m")).toBe("existing");
    const existing = await shared.s3.send(new GetObjectCommand({ Bucket: "cond", Key: "m" }));
    await complete({ IfMatch: existing.ETag! });
    expect(await text("m")).toBe("multipart");
  });

  test("CopyObject applies If-None-Match / If-Match to its destination", async () => {
    await shared.s3.send(new PutObjectCommand({ Bucket: "cond", Key: "src", Body: "source" }));
    const dest = await shared.s3.send(new PutObjectCommand({ Bucket: "cond", Key: "dst", Body: "destination" }));
    const copy = (condition: { IfNoneMatch?: string; IfMatch?: string }) => shared.s3.send(new CopyObjectCommand({ Bucket: "cond", Key: "dst", CopySource: "cond/src", ...condition }));
    const before = chunkFiles().length;
    expect(await s3Error(copy({ IfNoneMatch: "*" }))).toEqual({ name: "PreconditionFailed", status: 412 });
    expect(await s3Error(copy({ IfMatch: '"0123456789abcdef0123456789abcdef"' }))).toEqual({ name: "PreconditionFailed", status: 412 });
    expect(chunkFiles().length).toBe(before);
    expect(await text("dst")).toBe("destination");
    await copy({ IfMatch: dest.ETag! });
    expect(await text("dst")).toBe("source");
    await shared.s3.send(new CopyObjectCommand({ Bucket: "cond", Key: "fresh", CopySource: "cond/src", IfNoneMatch: "*" }));
    expect(await text("fresh")).toBe("source");
  });
});
