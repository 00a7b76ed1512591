import { beforeAll, describe, expect, test } from "bun:test";
import {
  CopyObjectCommand,
  CreateBucketCommand,
  CompleteMultipartUploadCommand,
  CreateMultipartUploadCommand,
  DeleteObjectsCommand,
  UploadPartCopyCommand,
  DeleteBucketCommand,
  DeleteObjectCommand,
  GetBucketLocationCommand,
  GetObjectCommand,
  HeadBucketCommand,
  HeadObjectCommand,
  ListBucketsCommand,
  ListObjectsCommand,
  ListObjectsV2Command,
  PutObjectCommand,
} from "@aws-sdk/client-s3";
import { getSignedUrl } from "@aws-sdk/s3-request-presigner";
import { createHash, randomBytes } from "node:crypto";
import { s3Error, sharedGateway } from "../helpers/s3-gateway.ts";

const shared = sharedGateway("data");

const md5 = (b: Uint8Array) => createHash("md5").update(b).digest("hex");
const bytesOf = async (out: { Body?: { transformToByteArray(): Promise<Uint8Array> } }) => Buffer.from(await out.Body!.transformToByteArray());
describe("buckets", () => {
  test("create, list, head, locate; a second create in us-east-1 is 200; bad names are refused", async () => {
    await shared.s3.send(new CreateBucketCommand({ Bucket: "b-one" }));
    expect((await shared.s3.send(new ListBucketsCommand({}))).Buckets?.map((b) => b.Name)).toEqual(expect.arrayContaining(["b-one", "data"]));
    expect((await shared.s3.send(new HeadBucketCommand({ Bucket: "b-one" }))).$metadata.httpStatusCode).toBe(200);
    expect((await shared.s3.send(new GetBucketLocationCommand({ Bucket: "b-one" }))).LocationConstraint ?? "").toBe("");
    expect((await shared.s3.send(new CreateBucketCommand({ Bucket: "b-one" }))).$metadata.httpStatusCode).toBe(200);
    for (const bad of ["ab", "UPPER", "a..b", "192.168.0.1", "-dash"]) {
      expect((await s3Error(shared.s3.send(new CreateBucketCommand({ Bucket: bad })))).status).toBe(400);
    }
    expect(await s3Error(shared.s3.send(new HeadBucketCommand({ Bucket: "nope-missing" })))).toMatchObject({ status: 404 });
  });

  test("a bucket with objects is BucketNotEmpty; an empty one is deleted", async () => {
    await shared.s3.send(new CreateBucketCommand({ Bucket: "b-two" }));
    await shared.s3.send(new PutObjectCommand({ Bucket: "b-two", Key: "k", Body: "x" }));
    expect(await s3Error(shared.s3.send(new DeleteBucketCommand({ Bucket: "b-two" })))).toEqual({ name: "BucketNotEmpty", status: 409 });
    await shared.s3.send(new DeleteObjectCommand({ Bucket: "b-two", Key: "k" }));
    await shared.s3.send(new DeleteBucketCommand({ Bucket: "b-two" }));
    expect(await s3Error(shared.s3.send(new HeadBucketCommand({ Bucket: "b-two" })))).toMatchObject({ status: 404 });
  });
});

describe("objects", () => {
  test("PUT and GET round-trip with metadata, headers, MD5 ETag and the SDK's CRC32", async () => {
    const body = randomBytes(3 * 1024 * 1024 + 5);
    const put = await shared.s3.send(
      new PutObjectCommand({
        Bucket: "data",
        Key: "dir/file.bin",
        Body: body,
        ContentType: "application/x-test",
        CacheControl: "max-age=60",
        ContentDisposition: "attachment",
        Metadata: { owner: "photon", "two-words": "a b" },
      }),
    );
    expect(put.ETag).toBe(`"${md5(body)}"`);
    const got = await shared.s3.send(new GetObjectCommand({ Bucket: "data", Key: "dir/file.bin" }));
    expect((await bytesOf(got)).equals(body)).toBe(true);
    expect(got).toMatchObject({ ContentType: "application/x-test", CacheControl: "max-age=60", ContentDisposition: "attachment", ETag: put.ETag });
    expect(got.Metadata).toEqual({ owner: "photon", "two-words": "a b" });
    expect(got.ChecksumCRC32).toBe(put.ChecksumCRC32);
    const head = await shared.s3.send(new HeadObjectCommand({ Bucket: "data", Key: "dir/file.bin" }));
    expect(head.ContentLength).toBe(body.length);
  });

  test("objects larger than one 16 MiB chunk are split and read back whole and by range", async () => {
    const body = randomBytes(40 * 1024 * 1024 + 123);
    await shared.s3.send(new PutObjectCommand({ Bucket: "data", Key: "big", Body: body }));
    expect(md5(await bytesOf(await shared.s3.send(new GetObjectCommand({ Bucket: "data", Key: "big" }))))).toBe(md5(body));
    const start = 16 * 1024 * 1024 - 10;
    const part = await shared.s3.send(new GetObjectCommand({ Bucket: "data", Key: "big", Range: `bytes=${start}-${start + 99}` }));
    expect(part.ContentRange).toBe(`bytes ${start}-${start + 99}/${body.length}`);
    expect((await bytesOf(part)).equals(body.subarray(start, start + 100))).toBe(true);
  });

  test("ranges: first-last, open, suffix, and 416 past the end", async () => {
    const body = Buffer.from("0123456789");
    await shared.s3.send(new PutObjectCommand({ Bucket: "data", Key: "digits", Body: body }));
    const range = async (r: string) => (await bytesOf(await shared.s3.send(new GetObjectCommand({ Bucket: "data", Key: "digits", Range: r })))).toString();
    expect(await range("bytes=2-4")).toBe("234");
    expect(await range("bytes=7-")).toBe("789");
    expect(await range("bytes=-3")).toBe("789");
    expect(await range("bytes=5-100")).toBe("56789");
    expect(await s3Error(shared.s3.send(new GetObjectCommand({ Bucket: "data", Key: "digits", Range: "bytes=10-20" })))).toEqual({ name: "InvalidRange", status: 416 });
  });

  test("conditional GET: If-None-Match → 304, If-Match mismatch → 412", async () => {
    const put = await shared.s3.send(new PutObjectCommand({ Bucket: "data", Key: "cond", Body: "v1" }));
    expect((await s3Error(shared.s3.send(new GetObjectCommand({ Bucket: "data", Key: "cond", IfNoneMatch: put.ETag })))).status).toBe(304);
    expect(await s3Error(shared.s3.send(new GetObjectCommand({ Bucket: "data", Key: "cond", IfMatch: '"nope"' })))).toMatchObject({ status: 412 });
    const ok = await shared.s3.send(new GetObjectCommand({ Bucket: "data", Key: "cond", IfMatch: put.ETag }));
    expect((await bytesOf(ok)).toString()).toBe("v1");
    const later = new Date(Date.now() + 3600_000);
    expect((await s3Error(shared.s3.send(new GetObjectCommand({ Bucket: "data", Key: "cond", IfModifiedSince: later })))).status).toBe(304);
  });

  test("an overwrite replaces the object; a delete removes it; missing keys are NoSuchKey", async () => {
    await shared.s3.send(new PutObjectCommand({ Bucket: "data", Key: "over", Body: "old" }));
    await shared.s3.send(new PutObjectCommand({ Bucket: "data", Key: "over", Body: "new!" }));
    expect((await bytesOf(await shared.s3.send(new GetObjectCommand({ Bucket: "data", Key: "over" })))).toString()).toBe("new!");
    await shared.s3.send(new DeleteObjectCommand({ Bucket: "data", Key: "over" }));
    expect(await s3Error(shared.s3.send(new GetObjectCommand({ Bucket: "data", Key: "over" })))).toEqual({ name: "NoSuchKey", status: 404 });
    expect(await s3Error(shared.s3.send(new PutObjectCommand({ Bucket: "no-such-bucket", Key: "k", Body: "x" })))).toEqual({ name: "NoSuchBucket", status: 404 });
  });

  test("keys are opaque: ../, unicode, reserved characters and 1024-byte keys are stored as given; 1025 bytes is refused", async () => {
    const keys = ["ünïcödé/日本語 with spaces+plus&amp", "k".repeat(1024), "a//b//c", "%2F%20?#[]@!$'()*,;=", "../../etc/passwd"];
    for (const key of keys) await shared.s3.send(new PutObjectCommand({ Bucket: "data", Key: key, Body: key }));
    for (const key of keys) expect((await bytesOf(await shared.s3.send(new GetObjectCommand({ Bucket: "data", Key: key })))).toString()).toBe(key);
    expect(await s3Error(shared.s3.send(new PutObjectCommand({ Bucket: "data", Key: "k".repeat(1025), Body: "x" })))).toMatchObject({ status: 400 });
  });

  test("keys with dot segments are stored under exactly that key, never a normalized path", async () => {
    const keys = ["../../etc/passwd", "a/./b", "a/../b", ".", ".."];
    for (const key of keys) await shared.s3.send(new PutObjectCommand({ Bucket: "data", Key: key, Body: `body of ${key}` }));
    for (const key of keys) expect((await bytesOf(await shared.s3.send(new GetObjectCommand({ Bucket: "data", Key: key })))).toString()).toBe(`body of ${key}`);
    const listed = (await shared.s3.send(new ListObjectsV2Command({ Bucket: "data" }))).Contents?.map((c) => c.Key) ?? [];
    expect(listed).toEqual(expect.arrayContaining(keys));
    expect(listed).not.toEqual(expect.arrayContaining(["etc/passwd", "b"]));
  });
});

describe("listing", () => {
  beforeAll(async () => {
    await shared.s3.send(new CreateBucketCommand({ Bucket: "listing" }));
    const keys = ["a/1", "a/2", "a/b/3", "b/4", "c", "d%", "e_"];
    for (const key of keys) await shared.s3.send(new PutObjectCommand({ Bucket: "listing", Key: key, Body: key }));
  });

  test("ListObjectsV2 with delimiter groups common prefixes", async () => {
    const out = await shared.s3.send(new ListObjectsV2Command({ Bucket: "listing", Delimiter: "/" }));
    expect(out.CommonPrefixes?.map((p) => p.Prefix)).toEqual(["a/", "b/"]);
    expect(out.Contents?.map((c) => c.Key)).toEqual(["c", "d%", "e_"]);
    expect(out.KeyCount).toBe(5);
    const inA = await shared.s3.send(new ListObjectsV2Command({ Bucket: "listing", Prefix: "a/", Delimiter: "/" }));
    expect(inA.Contents?.map((c) => c.Key)).toEqual(["a/1", "a/2"]);
    expect(inA.CommonPrefixes?.map((p) => p.Prefix)).toEqual(["a/b/"]);
  });

  test("pagination with max-keys and continuation tokens visits every key once", async () => {
    const seen: string[] = [];
    let token: string | undefined;
    do {
      const page = await shared.s3.send(new ListObjectsV2Command({ Bucket: "listing", MaxKeys: 2, ContinuationToken: token }));
      seen.push(...(page.Contents ?? []).map((c) => c.Key!));
      token = page.IsTruncated ? page.NextContinuationToken : undefined;
      expect((page.Contents ?? []).length).toBeLessThanOrEqual(2);
    } while (token);
    expect(seen).toEqual(["a/1", "a/2", "a/b/3", "b/4", "c", "d%", "e_"]);
  });

  test("start-after, v1 marker, literal % and _ prefixes", async () => {
    const after = await shared.s3.send(new ListObjectsV2Command({ Bucket: "listing", StartAfter: "b/4" }));
    expect(after.Contents?.map((c) => c.Key)).toEqual(["c", "d%", "e_"]);
    const v1 = await shared.s3.send(new ListObjectsCommand({ Bucket: "listing", Marker: "c" }));
    expect(v1.Contents?.map((c) => c.Key)).toEqual(["d%", "e_"]);
    expect((await shared.s3.send(new ListObjectsV2Command({ Bucket: "listing", Prefix: "d%" }))).Contents?.map((c) => c.Key)).toEqual(["d%"]);
    expect((await shared.s3.send(new ListObjectsV2Command({ Bucket: "listing", Prefix: "A" }))).KeyCount).toBe(0);
  });
});

describe("authentication", () => {
  test("a wrong secret, an unknown key and anonymous requests are refused and store nothing", async () => {
    const wrong = shared.gw.client({ credentials: { accessKeyId: shared.gw.credentials.accessKeyId, secretAccessKey: "wrong" } });
    expect(await s3Error(wrong.send(new PutObjectCommand({ Bucket: "data", Key: "evil", Body: "x" })))).toMatchObject({ name: "SignatureDoesNotMatch", status: 403 });
    const unknown = shared.gw.client({ credentials: { accessKeyId: "PHUNKNOWN0000000000A", secretAccessKey: "x" } });
    expect(await s3Error(unknown.send(new ListBucketsCommand({})))).toMatchObject({ name: "InvalidAccessKeyId", status: 403 });
    const anonymous = await fetch(`${shared.gw.endpoint}/data/evil`, { method: "PUT", body: "x" });
    expect(anonymous.status).toBe(403);
    expect(await anonymous.text()).toContain("<Code>AccessDenied</Code>");
    expect(await s3Error(shared.s3.send(new HeadObjectCommand({ Bucket: "data", Key: "evil" })))).toMatchObject({ status: 404 });
  });

  test("presigned GET and PUT URLs work, and a tampered one does not", async () => {
    const putUrl = await getSignedUrl(shared.s3, new PutObjectCommand({ Bucket: "data", Key: "presigned" }), { expiresIn: 300 });
    expect((await fetch(putUrl, { method: "PUT", body: "via presigned" })).status).toBe(200);
    const getUrl = await getSignedUrl(shared.s3, new GetObjectCommand({ Bucket: "data", Key: "presigned" }), { expiresIn: 300 });
    expect(await (await fetch(getUrl)).text()).toBe("via presigned");
    const tampered = await fetch(getUrl.replace("presigned?", "presigned2?"));
    expect(tampered.status).toBe(403);
  });
});

describe("copy and bulk delete", () => {
  test("CopyObject copies data and metadata (COPY) or takes new metadata (REPLACE); copy-source conditionals apply", async () => {
    const body = randomBytes(20 * 1024 * 1024);
    const put = await shared.s3.send(new PutObjectCommand({ Bucket: "data", Key: "src", Body: body, ContentType: "text/x-src", Metadata: { a: "1" } }));
    const copy = await shared.s3.send(new CopyObjectCommand({ Bucket: "data", Key: "dst ünï", CopySource: "data/src" }));
    expect(copy.CopyObjectResult?.ETag).toBe(put.ETag);
    const got = await shared.s3.send(new GetObjectCommand({ Bucket: "data", Key: "dst ünï" }));
    expect(md5(await bytesOf(got))).toBe(md5(body));
    expect(got).toMatchObject({ ContentType: "text/x-src", Metadata: { a: "1" } });
    await shared.s3.send(new CopyObjectCommand({ Bucket: "data", Key: "dst2", CopySource: "data/src", MetadataDirective: "REPLACE", ContentType: "text/x-new", Metadata: { b: "2" } }));
    expect(await shared.s3.send(new HeadObjectCommand({ Bucket: "data", Key: "dst2" }))).toMatchObject({ ContentType: "text/x-new", Metadata: { b: "2" } });
    expect(await s3Error(shared.s3.send(new CopyObjectCommand({ Bucket: "data", Key: "dst3", CopySource: "data/src", CopySourceIfMatch: '"nope"' })))).toMatchObject({ status: 412 });
    expect(await s3Error(shared.s3.send(new CopyObjectCommand({ Bucket: "data", Key: "dst3", CopySource: "data/missing" })))).toMatchObject({ name: "NoSuchKey" });
    // Deleting the source leaves the copy intact: chunks are never shared.
    await shared.s3.send(new DeleteObjectCommand({ Bucket: "data", Key: "src" }));
    expect(md5(await bytesOf(await shared.s3.send(new GetObjectCommand({ Bucket: "data", Key: "dst ünï" }))))).toBe(md5(body));
  });

  test("UploadPartCopy copies a byte range of an object into a part", async () => {
    const body = randomBytes(12 * 1024 * 1024);
    await shared.s3.send(new PutObjectCommand({ Bucket: "data", Key: "parts-src", Body: body }));
    const { UploadId } = await shared.s3.send(new CreateMultipartUploadCommand({ Bucket: "data", Key: "assembled" }));
    const p1 = await shared.s3.send(new UploadPartCopyCommand({ Bucket: "data", Key: "assembled", UploadId, PartNumber: 1, CopySource: "data/parts-src", CopySourceRange: "bytes=0-5242879" }));
    const p2 = await shared.s3.send(new UploadPartCopyCommand({ Bucket: "data", Key: "assembled", UploadId, PartNumber: 2, CopySource: "data/parts-src", CopySourceRange: "bytes=10485760-12582911" }));
    await shared.s3.send(
      new CompleteMultipartUploadCommand({
        Bucket: "data",
        Key: "assembled",
        UploadId,
        MultipartUpload: { Parts: [{ PartNumber: 1, ETag: p1.CopyPartResult?.ETag }, { PartNumber: 2, ETag: p2.CopyPartResult?.ETag }] },
      }),
    );
    const got = await bytesOf(await shared.s3.send(new GetObjectCommand({ Bucket: "data", Key: "assembled" })));
    expect(got.equals(Buffer.concat([body.subarray(0, 5242880), body.subarray(10485760)]))).toBe(true);
  });

  test("DeleteObjects deletes many keys, verbose and quiet, without Content-MD5", async () => {
    for (const key of ["d1", "d2", "d3"]) await shared.s3.send(new PutObjectCommand({ Bucket: "data", Key: key, Body: key }));
    const verbose = await shared.s3.send(new DeleteObjectsCommand({ Bucket: "data", Delete: { Objects: [{ Key: "d1" }, { Key: "d2" }, { Key: "never-existed" }] } }));
    expect(verbose.Deleted?.map((d) => d.Key).sort()).toEqual(["d1", "d2", "never-existed"]);
    const quiet = await shared.s3.send(new DeleteObjectsCommand({ Bucket: "data", Delete: { Objects: [{ Key: "d3" }], Quiet: true } }));
    expect(quiet.Deleted ?? []).toEqual([]);
    for (const key of ["d1", "d2", "d3"]) expect(await s3Error(shared.s3.send(new HeadObjectCommand({ Bucket: "data", Key: key })))).toMatchObject({ status: 404 });
  });
});

describe("checksums", () => {
  for (const algorithm of ["CRC32", "CRC32C", "CRC64NVME", "SHA1", "SHA256"] as const) {
    test(`${algorithm} is verified, stored and returned on full GET`, async () => {
      const body = randomBytes(100_000);
      const put = await shared.s3.send(new PutObjectCommand({ Bucket: "data", Key: `sum-${algorithm}`, Body: body, ChecksumAlgorithm: algorithm }));
      const field = `Checksum${algorithm}` as const;
      expect(put[field]).toBeString();
      const got = await shared.s3.send(new GetObjectCommand({ Bucket: "data", Key: `sum-${algorithm}`, ChecksumMode: "ENABLED" }));
      expect(got[field]).toBe(put[field]);
      expect(md5(await bytesOf(got))).toBe(md5(body));
      const ranged = await shared.s3.send(new GetObjectCommand({ Bucket: "data", Key: `sum-${algorithm}`, Range: "bytes=0-9", ChecksumMode: "ENABLED" }));
      expect(ranged[field]).toBeUndefined();
    });
  }
});

describe("addressing", () => {
  test("virtual-hosted-style requests (bucket.<domain>) reach the same objects as path-style ones", async () => {
    await shared.s3.send(new PutObjectCommand({ Bucket: "data", Key: "vhost/key.txt", Body: "hosted" }));
    // The SDK puts the bucket in the Host header; the connection still goes to the gateway's address.
    const port = new URL(shared.gw.endpoint).port;
    const hosted = shared.gw.client({ endpoint: `http://s3.photon.test:${port}`, forcePathStyle: false });
    hosted.middlewareStack.add(
      (next) => async (args) => {
        const request = args.request as { hostname: string; headers: Record<string, string> };
        request.headers.host = `${request.hostname}:${port}`;
        request.hostname = "127.0.0.1";
        return next(args);
      },
      { step: "finalizeRequest", priority: "low" },
    );
    const got = await hosted.send(new GetObjectCommand({ Bucket: "data", Key: "vhost/key.txt" }));
    expect(await got.Body!.transformToString()).toBe("hosted");
    await hosted.send(new PutObjectCommand({ Bucket: "data", Key: "vhost/put.txt", Body: "back" }));
    expect((await bytesOf(await shared.s3.send(new GetObjectCommand({ Bucket: "data", Key: "vhost/put.txt" })))).toString()).toBe("back");
    hosted.destroy();
  });
});
