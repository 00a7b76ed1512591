import { afterAll, beforeAll, expect, test } from "bun:test";
import { CreateBucketCommand, HeadObjectCommand, ListMultipartUploadsCommand, PutObjectCommand, type S3Client } from "@aws-sdk/client-s3";
import { randomBytes } from "node:crypto";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { tempDir } from "../helpers/photon.ts";
import { rclone } from "../helpers/rclone.ts";
import { s3Error, startGateway, type TestGateway } from "../helpers/s3-gateway.ts";
import { smallDisk } from "../helpers/small-disk.ts";

/**
 * rclone (Go) meets a full disk: the gateway's 507 XMinioStorageFull is not
 * one of the statuses rclone retries at once (429, 500, 503), so each of its
 * whole-command attempts (`--retries`, default 3) sends the PUT once and the
 * command exits non-zero naming the code; nothing of the refused file stays.
 */

const MiB = 1024 * 1024;
const disk = smallDisk("64m");
const home = tempDir("photon-interop-full-");
let gw: TestGateway;
let s3: S3Client;

beforeAll(async () => {
  gw = await startGateway({ dir: disk.path });
  s3 = gw.client();
  await s3.send(new CreateBucketCommand({ Bucket: "full" }));
  // Fill the disk through the SDK until the gateway refuses.
  for (let i = 0; i < 32; i++) {
    const refused = await s3.send(new PutObjectCommand({ Bucket: "full", Key: `fill${i}`, Body: randomBytes(4 * MiB) })).then(() => false, () => true);
    if (refused) return;
  }
  throw new Error("the disk never filled");
});

afterAll(async () => {
  s3.destroy();
  await gw[Symbol.asyncDispose]();
  disk[Symbol.dispose]();
  home[Symbol.dispose]();
});

test("rclone copying to a full disk exits non-zero naming XMinioStorageFull after its whole-command attempts, one PUT each, and leaves nothing", async () => {
  const file = join(home.path, "r.bin");
  writeFileSync(file, randomBytes(4 * MiB));
  const copied = await rclone(gw, home.path, ["copyto", file, "ph:full/r.bin"]);
  expect(copied.code).not.toBe(0);
  expect(copied.stderr).toContain("XMinioStorageFull");
  const puts = gw.proc.lines.filter((l) => l.msg === "s3 request" && l.method === "PUT" && l.path === "/full/r.bin");
  expect(puts.map((l) => l.status)).toEqual([507, 507, 507]); // rclone's default --retries 3: three attempts, no low-level retry inside any
  expect(await s3Error(s3.send(new HeadObjectCommand({ Bucket: "full", Key: "r.bin" })))).toEqual({ name: "NotFound", status: 404 });
}, 120_000);

test("rclone's multipart upload to a full disk exits non-zero naming XMinioStorageFull; it aborts its uploads, so none is left", async () => {
  const file = join(home.path, "m.bin");
  writeFileSync(file, randomBytes(12 * MiB));
  const copied = await rclone(gw, home.path, ["copyto", file, "ph:full/m.bin"], { UPLOAD_CUTOFF: "5M", CHUNK_SIZE: "5M" });
  expect(copied.code).not.toBe(0);
  expect(copied.stderr).toContain("XMinioStorageFull");
  const creates = gw.proc.lines.filter((l) => l.msg === "s3 request" && l.method === "POST" && l.path === "/full/m.bin" && l.status === 200);
  expect(creates.length).toBe(3); // one multipart upload per attempt: it took the multipart path
  expect((await s3.send(new ListMultipartUploadsCommand({ Bucket: "full" }))).Uploads ?? []).toEqual([]);
  expect(await s3Error(s3.send(new HeadObjectCommand({ Bucket: "full", Key: "m.bin" })))).toEqual({ name: "NotFound", status: 404 });
}, 120_000);
