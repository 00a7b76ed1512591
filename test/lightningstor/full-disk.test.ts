import { afterEach, expect, test } from "bun:test";
import { CreateBucketCommand, DeleteBucketCommand, DeleteObjectCommand, GetObjectCommand, HeadObjectCommand, PutObjectCommand } from "@aws-sdk/client-s3";
import { createHash, randomBytes } from "node:crypto";
import { join } from "node:path";
import { startExport } from "../helpers/nbd-export.ts";
import { tempDir, waitFor } from "../helpers/photon.ts";
import { nodeChunkFiles, startNodeGateway, startStorageNodes } from "../helpers/storage-nodes.ts";
import { chunkFiles, s3Error, startGateway } from "../helpers/s3-gateway.ts";
import { fillDisk, smallDisk } from "../helpers/small-disk.ts";

/**
 * A full disk (a 64 MiB tmpfs holding the data dir): writes are refused with
 * an error clients do not retry, nothing partial stays, and deletes — the way
 * to free space — still commit.
 */

const MiB = 1024 * 1024;
const sha256 = (data: Uint8Array) => createHash("sha256").update(data).digest("hex");
const disposals: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const dispose of disposals.splice(0).reverse()) await dispose();
});

test("a full disk: PUT answers 507 XMinioStorageFull once (not retried) and leaves nothing; DeleteBucket and DeleteObject still work, and free room for PUTs", async () => {
  const disk = smallDisk("64m");
  disposals.push(() => disk[Symbol.dispose]());
  const gw = await startGateway({ dir: disk.path });
  disposals.push(() => gw[Symbol.asyncDispose]());
  const s3 = gw.client();
  disposals.push(() => s3.destroy());
  await s3.send(new CreateBucketCommand({ Bucket: "full" }));
  await s3.send(new CreateBucketCommand({ Bucket: "spare" }));

  const stored = new Map<string, string>();
  let refused: { name: string; status: number } | undefined;
  let key = "";
  for (let i = 0; i < 32 && !refused; i++) {
    key = `o${i}`;
    const body = randomBytes(4 * MiB);
    try {
      await s3.send(new PutObjectCommand({ Bucket: "full", Key: key, Body: body }));
      stored.set(key, sha256(body));
    } catch (err) {
      refused = await s3Error(Promise.reject(err));
    }
  }
  expect(refused).toEqual({ name: "XMinioStorageFull", status: 507 });
  expect(stored.size).toBeGreaterThan(5);
  const puts = gw.proc.lines.filter((l) => l.msg === "s3 request" && l.method === "PUT" && l.path === `/full/${key}`);
  expect(puts.map((l) => l.status)).toEqual([507]); // answered once: the SDK did not retry
  expect(await s3Error(s3.send(new HeadObjectCommand({ Bucket: "full", Key: key })))).toEqual({ name: "NotFound", status: 404 });
  expect(chunkFiles(gw)).toHaveLength(stored.size); // no chunk or temp file of the refused PUT

  // Another program takes the last byte: the deletes still commit.
  fillDisk(disk.path);
  expect(await s3Error(s3.send(new PutObjectCommand({ Bucket: "full", Key: "tiny", Body: "x" })))).toEqual({ name: "XMinioStorageFull", status: 507 });
  await s3.send(new DeleteBucketCommand({ Bucket: "spare" }));
  for (const gone of ["o0", "o1", "o2"]) {
    await s3.send(new DeleteObjectCommand({ Bucket: "full", Key: gone }));
    stored.delete(gone);
  }
  expect(await s3Error(s3.send(new HeadObjectCommand({ Bucket: "full", Key: "o0" })))).toEqual({ name: "NotFound", status: 404 });
  expect(await s3Error(s3.send(new HeadObjectCommand({ Bucket: "spare", Key: "k" })))).toMatchObject({ status: 404 });

  // The room freed takes a new object; every object kept reads back whole.
  const body = randomBytes(4 * MiB);
  await s3.send(new PutObjectCommand({ Bucket: "full", Key: "after", Body: body }));
  stored.set("after", sha256(body));
  for (const [k, digest] of stored) {
    const out = await s3.send(new GetObjectCommand({ Bucket: "full", Key: k }));
    expect(sha256(await out.Body!.transformToByteArray())).toBe(digest);
  }
}, 120_000);

test("storage nodes with full disks: PUT answers 507 XMinioStorageFull and leaves no copy; deletes free room for PUTs", async () => {
  const dir = tempDir("photon-full-nodes-");
  disposals.push(() => dir[Symbol.dispose]());
  for (const n of [1, 2, 3]) {
    const disk = smallDisk("48m", join(dir.path, `node${n}`));
    disposals.push(() => disk[Symbol.dispose]());
  }
  const cluster = await startStorageNodes(dir.path);
  disposals.push(() => cluster.stop());
  const gw = await startNodeGateway(cluster.controller, cluster.nodes, join(dir.path, "gateway"), { accessKeyId: "PHTESTKEY0000000000F", secretAccessKey: "full-" + crypto.randomUUID() });
  disposals.push(() => gw.proc[Symbol.asyncDispose]());
  await gw.s3.send(new CreateBucketCommand({ Bucket: "full" }));
  const stored = new Map<string, string>();
  let refused: { name: string; status: number } | undefined;
  for (let i = 0; i < 32 && !refused; i++) {
    const body = randomBytes(4 * MiB);
    try {
      await gw.s3.send(new PutObjectCommand({ Bucket: "full", Key: `o${i}`, Body: body }));
      stored.set(`o${i}`, sha256(body));
    } catch (err) {
      refused = await s3Error(Promise.reject(err));
      expect(await s3Error(gw.s3.send(new HeadObjectCommand({ Bucket: "full", Key: `o${i}` })))).toEqual({ name: "NotFound", status: 404 });
    }
  }
  expect(refused).toEqual({ name: "XMinioStorageFull", status: 507 });
  // Every copy on the nodes belongs to a stored object: the refused PUT left none.
  await waitFor(() => cluster.nodes.every((n) => nodeChunkFiles(n).length === stored.size), "a copy of each stored object on each node, and no other");
  for (const gone of ["o0", "o1", "o2"]) {
    await gw.s3.send(new DeleteObjectCommand({ Bucket: "full", Key: gone }));
    stored.delete(gone);
  }
  const body = randomBytes(4 * MiB);
  await waitFor(async () => {
    const put = await gw.s3.send(new PutObjectCommand({ Bucket: "full", Key: "after", Body: body })).then(() => true, () => false);
    return put; // the nodes marked unhealthy for their refusals are probed back first
  }, "a PUT to succeed once room was freed");
  stored.set("after", sha256(body));
  for (const [k, digest] of stored) {
    const out = await gw.s3.send(new GetObjectCommand({ Bucket: "full", Key: k }));
    expect(sha256(await out.Body!.transformToByteArray())).toBe(digest);
  }
}, 120_000);

test("a full disk: CoronaFS refuses a new volume with 507 and still deletes one", async () => {
  const disk = smallDisk("32m");
  disposals.push(() => disk[Symbol.dispose]());
  const nbd = await startExport({ dir: disk.path });
  disposals.push(() => nbd[Symbol.asyncDispose]());
  await nbd.createVolume("kept", "8M");
  await nbd.createVolume("doomed", "8M");
  fillDisk(disk.path);
  const refused = await nbd.api("POST", "/v1/volumes", { name: "new", size: "1M" });
  expect(refused.status).toBe(507);
  const deleted = await nbd.api("DELETE", "/v1/volumes/doomed");
  expect(deleted.status).toBe(204);
  const names = ((await (await nbd.api("GET", "/v1/volumes")).json()) as { volumes: { name: string }[] }).volumes.map((v) => v.name);
  expect(names).toEqual(["kept"]);
}, 60_000);
