import { afterAll, beforeAll, expect, test } from "bun:test";
import { CreateBucketCommand, GetObjectCommand, PutObjectCommand } from "@aws-sdk/client-s3";
import { Upload } from "@aws-sdk/lib-storage";
import { createHash, randomBytes } from "node:crypto";
import { Database } from "bun:sqlite";
import { connect } from "node:net";
import { mkdirSync, utimesSync } from "node:fs";
import { join } from "node:path";
import { applyMigrations } from "../../src/db/migrate.ts";
import { chunkOwner } from "../../src/lightningstor/chunks/chunk-ids.ts";
import { lightningstorMigrations } from "../../src/lightningstor/migrations/index.ts";
import { authed, tempDir, waitFor } from "../helpers/photon.ts";
import { signHeaders } from "../helpers/sign.ts";
import { nodeChunkFiles, nodeChunkIds, startNodeGateway, startStorageNodes, type NodeGateway, type StorageNode } from "../helpers/storage-nodes.ts";

/**
 * Two gateways over the same three storage nodes, each collecting garbage
 * every 2 s: each deletes only unreferenced copies it wrote itself, so
 * neither loses the other's objects, and what an upload killed mid-way left
 * is still collected.
 */

const MiB = 1024 * 1024;
const sha256 = (data: Uint8Array) => createHash("sha256").update(data).digest("hex");
const dir = tempDir("photon-shared-nodes-");
const credentials = { accessKeyId: "PHTESTKEY0000000000S", secretAccessKey: "shared-secret-" + crypto.randomUUID() };
let cluster: Awaited<ReturnType<typeof startStorageNodes>>;
const gateways: { dataDir: string; gw: NodeGateway }[] = [];

/** Starts (or restarts) gateway `n` on its own data dir, collecting every 2 s. */
async function startGateway(n: number, extra: string[] = []): Promise<NodeGateway> {
  const dataDir = join(dir.path, `gateway${n}`);
  const gw = await startNodeGateway(cluster.controller, cluster.nodes, dataDir, credentials, ["--gc-every", "2", ...extra]);
  gateways[n] = { dataDir, gw };
  return gw;
}

/** Stores a copy on every node through the chunk API, as a gateway does, dated a day back. */
async function putCopies(id: string, body: Uint8Array): Promise<void> {
  for (const node of cluster.nodes) {
    const put = await fetch(`${node.url}/v1/chunks/${id}`, authed(cluster.controller.token, { method: "PUT", body }));
    expect(put.status).toBe(201);
    const file = nodeChunkFiles(node).find((f) => f.endsWith(id))!;
    utimesSync(file, new Date(Date.now() - 86_400_000), new Date(Date.now() - 86_400_000));
  }
}

/** The id a gateway's chunk ids carry (from its start-up line). */
async function ownerOf(gw: NodeGateway): Promise<string> {
  const line = await gw.proc.waitForLog((l) => l.msg === "chunks are replicated", "the replication line");
  return String(line.gateway);
}

const allIds = () => new Set(cluster.nodes.flatMap(nodeChunkIds));

/**
 * Starts a PUT of `size` bytes through a raw connection, sends `sent` of
 * them and returns once a new chunk of `owner` is on a node; the body is never finished.
 */
async function startUpload(gw: NodeGateway, owner: string, key: string, size: number, sent: number): Promise<void> {
  const endpoint = new URL(await gw.proc.url("s3"));
  const before = allIds();
  const headers = await signHeaders(endpoint.origin, credentials, { method: "PUT", path: `/shared/${key}`, payloadHash: "UNSIGNED-PAYLOAD", headers: { "content-length": String(size) } });
  const socket = connect(Number(endpoint.port), endpoint.hostname);
  socket.on("error", () => {}); // the gateway is killed under it
  socket.write(`PUT /shared/${key} HTTP/1.1\r\n${Object.entries(headers).map(([k, v]) => `${k}: ${v}\r\n`).join("")}\r\n`);
  socket.write(randomBytes(sent));
  await waitFor(() => [...allIds()].some((id) => !before.has(id) && chunkOwner(id) === owner), "a chunk of the upload on the nodes");
}

beforeAll(async () => {
  cluster = await startStorageNodes(dir.path);
});

afterAll(async () => {
  for (const { gw } of gateways) await gw.proc[Symbol.asyncDispose]();
  await cluster.stop();
  dir[Symbol.dispose]();
});

test("two gateways collecting garbage over the same nodes lose none of each other's objects; an upload killed mid-way is collected by its gateway", async () => {
  const [a, b] = [await startGateway(0), await startGateway(1)];
  const owners = [await ownerOf(a), await ownerOf(b)];
  expect(owners[0]).not.toBe(owners[1]);
  // A copy written before chunk ids named their gateway (as an older gateway did), unreferenced and old: kept.
  const legacy = crypto.randomUUID();
  await putCopies(legacy, Buffer.from("from an older gateway"));

  const objects = new Map<string, { gw: NodeGateway; body: Buffer }>();
  for (const [i, gw] of [a, b].entries()) {
    await gw.s3.send(new CreateBucketCommand({ Bucket: "shared" })).catch(() => {}); // the buckets are each gateway's own
    for (const size of [1000, 300_000, 20 * MiB]) {
      const body = randomBytes(size);
      await gw.s3.send(new PutObjectCommand({ Bucket: "shared", Key: `g${i}-${size}`, Body: body }));
      objects.set(`g${i}-${size}`, { gw, body });
    }
    const body = randomBytes(12 * MiB);
    await new Upload({ client: gw.s3, params: { Bucket: "shared", Key: `g${i}-multipart`, Body: body }, partSize: 5 * MiB }).done();
    objects.set(`g${i}-multipart`, { gw, body });
  }

  // An upload killed mid-way on each gateway: its first chunk is on the nodes, referenced by nothing.
  const orphans: string[] = [];
  for (const [i, gw] of [a, b].entries()) {
    const before = allIds();
    await startUpload(gw, owners[i]!, `g${i}-killed`, 40 * MiB, 20 * MiB);
    orphans.push(...[...allIds()].filter((id) => !before.has(id)));
    process.kill(gw.proc.proc.pid, "SIGKILL");
    await gw.proc.exited;
  }
  expect(orphans.length).toBeGreaterThan(0);
  const [a2, b2] = [await startGateway(0), await startGateway(1)];
  expect([await ownerOf(a2), await ownerOf(b2)]).toEqual(owners); // each gateway's id is kept in its database
  const refreshed = [a2, b2];
  // Each gateway collects its orphan once it is older than a round; by then the
  // other's objects, written before, were old enough to be taken for garbage too.
  await waitFor(() => orphans.every((id) => !allIds().has(id)), "the killed uploads' chunks to be collected", 60_000);
  const sweeps = () => refreshed.map((gw) => gw.proc.lines.filter((l) => l.msg === "removed unreferenced chunk copies from storage nodes").length);
  await waitFor(() => sweeps().every((n) => n > 0), "each gateway to log its collection"); // logged once its round is over
  await Bun.sleep(4500); // two more rounds each
  for (const [key, { gw, body }] of objects) {
    const live = refreshed[gw === a ? 0 : 1]!;
    const out = await live.s3.send(new GetObjectCommand({ Bucket: "shared", Key: key }));
    expect(sha256(await out.Body!.transformToByteArray()), key).toBe(sha256(body));
  }
  expect(allIds().has(legacy)).toBe(true);
  // Every copy on the nodes belongs to an object of one of the gateways, or to the older gateway.
  for (const id of allIds()) expect([...owners, undefined]).toContain(chunkOwner(id));
}, 120_000);

test("a gateway database from before gateway ids: the upgrade gives it an id, its objects (plain UUID chunks) read back and are never collected", async () => {
  // The database as the previous format left it: every migration before the gateway's settings, one object.
  const dataDir = join(dir.path, "gateway2");
  mkdirSync(dataDir, { recursive: true });
  const db = new Database(join(dataDir, "s3-gateway.db"), { create: true, strict: true });
  applyMigrations(db, lightningstorMigrations.slice(0, lightningstorMigrations.findIndex((m) => m.tag.endsWith("_gateway_settings"))));
  const body = randomBytes(300_000);
  const id = crypto.randomUUID();
  db.run("INSERT INTO buckets (name, created_at) VALUES ('old', ?)", [Date.now()]);
  db.run("INSERT INTO objects (bucket, key, size, etag, chunks, headers, checksums, last_modified) VALUES ('old', 'kept', ?, ?, ?, '{}', '{}', ?)", [
    body.length,
    `"${createHash("md5").update(body).digest("hex")}"`,
    JSON.stringify([{ id, size: body.length }]),
    Date.now(),
  ]);
  db.close();
  await putCopies(id, body);

  const gw = await startGateway(2, ["--log-level", "debug"]);
  const owner = await ownerOf(gw);
  // Two collection rounds, each keeping the older gateway's unreferenced copy of the first test.
  await waitFor(() => gw.proc.lines.filter((l) => l.msg === "kept unreferenced copies written before chunk ids named their gateway").length >= 2, "two collection rounds");
  const out = await gw.s3.send(new GetObjectCommand({ Bucket: "old", Key: "kept" }));
  expect(sha256(await out.Body!.transformToByteArray())).toBe(sha256(body));
  expect(cluster.nodes.every((n) => nodeChunkIds(n).includes(id))).toBe(true);
  // New chunks carry the id the upgrade gave it.
  const before = allIds();
  await gw.s3.send(new PutObjectCommand({ Bucket: "old", Key: "new", Body: "after the upgrade" }));
  expect([...allIds()].filter((i) => !before.has(i)).map(chunkOwner)).toContain(owner);
}, 60_000);
