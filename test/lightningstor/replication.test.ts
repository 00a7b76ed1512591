import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { CopyObjectCommand, CreateBucketCommand, DeleteObjectCommand, GetObjectCommand, HeadObjectCommand, PutObjectCommand, S3Client } from "@aws-sdk/client-s3";
import { Upload } from "@aws-sdk/lib-storage";
import { createHash, randomBytes } from "node:crypto";
import { closeSync, existsSync, openSync, readdirSync, readFileSync, writeSync } from "node:fs";
import { join } from "node:path";
import { placement } from "../../src/lightningstor/chunks/placement.ts";
import { aws } from "../helpers/awscli.ts";
import { startAgent, startController, type TestController } from "../helpers/cluster.ts";
import { tempDir, waitFor, type PhotonProcess } from "../helpers/photon.ts";
import { s3Error, startGateway, type TestGateway } from "../helpers/s3-gateway.ts";

/**
 * The s3-gateway over three agents as storage nodes, all the compiled binary:
 * three copies of each chunk, acknowledged once two are fsynced.
 */

const MiB = 1024 * 1024;
const sha256 = (data: Uint8Array) => createHash("sha256").update(data).digest("hex");

interface Node {
  name: string;
  dataDir: string;
  port: number;
  proc: PhotonProcess;
}

let dir: ReturnType<typeof tempDir>;
let controller: TestController;
const nodes: Node[] = [];
let gw: TestGateway;
let s3: S3Client;

/** The chunk files a node holds (temp files excluded). */
function chunkFiles(node: Node): string[] {
  const root = join(node.dataDir, "chunks");
  if (!existsSync(root)) return [];
  return readdirSync(root, { recursive: true, encoding: "utf8" })
    .filter((f) => f.includes("/") && !f.endsWith(".tmp"))
    .map((f) => join(root, f));
}

async function get(key: string): Promise<Uint8Array> {
  const out = await s3.send(new GetObjectCommand({ Bucket: "replicated", Key: key }));
  return out.Body!.transformToByteArray();
}

async function restart(node: Node): Promise<void> {
  node.proc = await startAgent(controller, node.dataDir, node.name, node.port);
}

const nodeUrl = (node: Node) => `http://127.0.0.1:${node.port}`;
const nodeByUrl = (url: string) => nodes.find((n) => nodeUrl(n) === url)!;

/** The gateway's placement of a chunk over the nodes (the store's own rendezvous hashing). */
const placementOf = (id: string) => placement(nodes.map(nodeUrl), id);

beforeAll(async () => {
  dir = tempDir("photon-replication-");
  controller = await startController(join(dir.path, "controller"));
  for (const name of ["store1", "store2", "store3"]) {
    const dataDir = join(dir.path, name);
    const proc = await startAgent(controller, dataDir, name);
    nodes.push({ name, dataDir, proc, port: Number(new URL(await proc.url()).port) });
  }
  const storageNodes = nodes.map(nodeUrl).join(",");
  gw = await startGateway({ token: controller.token, args: ["--storage-nodes", storageNodes] });
  s3 = gw.client();
  await s3.send(new CreateBucketCommand({ Bucket: "replicated" }));
});

afterAll(async () => {
  s3.destroy();
  await gw[Symbol.asyncDispose]();
  for (const node of nodes) await node.proc[Symbol.asyncDispose]();
  await controller.proc[Symbol.asyncDispose]();
  dir[Symbol.dispose]();
});

describe("s3-gateway over storage nodes", () => {
  test("every chunk of an object has a copy on each of the three nodes, and none is kept by the gateway", async () => {
    const body = randomBytes(20 * MiB); // a 16 MiB chunk and a 4 MiB one
    await s3.send(new PutObjectCommand({ Bucket: "replicated", Key: "big", Body: body }));
    expect(sha256(await get("big"))).toBe(sha256(body));
    // A range across the two chunks, streamed from both.
    const range = await s3.send(new GetObjectCommand({ Bucket: "replicated", Key: "big", Range: "bytes=16776216-16778215" }));
    expect(Buffer.from(await range.Body!.transformToByteArray()).equals(body.subarray(16776216, 16778216))).toBe(true);
    const perNode = nodes.map((n) => chunkFiles(n).map((f) => f.split("/").pop()).sort());
    expect(perNode[0]).toHaveLength(2);
    expect(perNode[1]).toEqual(perNode[0]!);
    expect(perNode[2]).toEqual(perNode[0]!);
    expect(existsSync(join(gw.dataDir, "chunks"))).toBe(false);
  });

  test("a multipart upload with parts in parallel (lib-storage) and a copy read back identically", async () => {
    const body = randomBytes(23 * MiB);
    await new Upload({ client: s3, params: { Bucket: "replicated", Key: "multipart", Body: body }, partSize: 5 * MiB, queueSize: 4 }).done();
    expect(sha256(await get("multipart"))).toBe(sha256(body));
    await s3.send(new CopyObjectCommand({ Bucket: "replicated", Key: "copied", CopySource: "replicated/multipart" }));
    expect(sha256(await get("copied"))).toBe(sha256(body));
  });

  test("with a node down a PUT is still acknowledged; once it is back, it gets the copy it missed", async () => {
    const [down] = nodes;
    await down!.proc.stop();
    const before = chunkFiles(down!).length;
    const body = randomBytes(300_000);
    await s3.send(new PutObjectCommand({ Bucket: "replicated", Key: "while-down", Body: body }));
    expect(sha256(await get("while-down"))).toBe(sha256(body));
    await restart(down!);
    await waitFor(() => chunkFiles(down!).length === before + 1, "the restarted node to get the copy it missed");
  });

  test("damaged blocks in the first copies are never sent: awscli streams correct bytes with exit 0 in one GET, and the damaged copies are rewritten", async () => {
    const body = randomBytes(4 * MiB);
    const before = new Set(nodes.flatMap(chunkFiles));
    await s3.send(new PutObjectCommand({ Bucket: "replicated", Key: "damaged", Body: body }));
    await waitFor(() => nodes.flatMap(chunkFiles).filter((f) => !before.has(f)).length === 3, "three copies");
    const copies = nodes.flatMap(chunkFiles).filter((f) => !before.has(f));
    // 16 bytes flipped at 1,000,000 in the first-placed copy, and at 3,000,000 in the second: the read meets both.
    const id = copies[0]!.split("/").pop()!;
    const order = placementOf(id);
    const damaged = order.slice(0, 2).map((url) => copies.find((f) => f.startsWith(nodeByUrl(url).dataDir + "/"))!);
    for (const [i, file] of damaged.entries()) {
      const offset = i === 0 ? 1_000_000 : 3_000_000;
      const fd = openSync(file, "r+");
      writeSync(fd, Buffer.from(readFileSync(file).subarray(offset, offset + 16).map((b) => b ^ 0xff)), 0, 16, offset);
      closeSync(fd);
    }
    const intact = (file: string) => existsSync(file) && sha256(readFileSync(file).subarray(0, body.length)) === sha256(body);
    expect(damaged.some(intact)).toBe(false);
    const out = await aws(gw, dir.path, "s3", "cp", "s3://replicated/damaged", "-");
    expect(out.code).toBe(0);
    expect(sha256(out.stdout)).toBe(sha256(body));
    const gets = gw.proc.lines.filter((l) => l.msg === "s3 request" && l.method === "GET" && String(l.path).endsWith("/damaged"));
    expect(gets.length).toBe(1); // the switch to another copy happened inside the one response
    await waitFor(() => damaged.every(intact), "the damaged copies to be rewritten");
    expect(sha256(await get("damaged"))).toBe(sha256(body));
  });

  test("without a write quorum a PUT fails with 503 ServiceUnavailable and leaves nothing visible", async () => {
    await nodes[1]!.proc.stop();
    await nodes[2]!.proc.stop();
    try {
      const put = s3.send(new PutObjectCommand({ Bucket: "replicated", Key: "no-quorum", Body: randomBytes(1000) }));
      expect(await s3Error(put)).toEqual({ name: "ServiceUnavailable", status: 503 });
      expect(await s3Error(s3.send(new HeadObjectCommand({ Bucket: "replicated", Key: "no-quorum" })))).toEqual({ name: "NotFound", status: 404 });
      // Load balancers are told: not ready while a PUT could not be stored.
      expect((await fetch(`${gw.endpoint}/health/ready`)).status).toBe(503);
      expect((await fetch(`${gw.endpoint}/health/live`)).status).toBe(200);
    } finally {
      await restart(nodes[1]!);
      await restart(nodes[2]!);
    }
    await waitFor(async () => (await fetch(`${gw.endpoint}/health/ready`)).status === 200, "the gateway to be ready again once the nodes answer");
  });

  test("deleting an object deletes its copies on every node", async () => {
    const before = new Set(nodes.flatMap(chunkFiles));
    await s3.send(new PutObjectCommand({ Bucket: "replicated", Key: "short-lived", Body: randomBytes(5000) }));
    const fresh = () => nodes.flatMap(chunkFiles).filter((f) => !before.has(f));
    await waitFor(() => fresh().length === 3, "three copies"); // the third copy may land after the acknowledgement
    const copies = fresh();
    await s3.send(new DeleteObjectCommand({ Bucket: "replicated", Key: "short-lived" }));
    expect(copies.filter((f) => existsSync(f))).toEqual([]);
  });

  test("a hung node (SIGSTOP) is passed over: a ranged GET completes from another copy, a PUT and a DELETE go on without it", async () => {
    const body = randomBytes(4 * MiB);
    const before = new Set(nodes.flatMap(chunkFiles));
    await s3.send(new PutObjectCommand({ Bucket: "replicated", Key: "hung", Body: body }));
    await waitFor(() => nodes.flatMap(chunkFiles).filter((f) => !before.has(f)).length === 3, "three copies");
    const id = nodes.flatMap(chunkFiles).find((f) => !before.has(f))!.split("/").pop()!;
    const hung = nodeByUrl(placementOf(id)[0]!);
    const metric = async (name: string) => {
      const text = await (await fetch(`${gw.admin}/metrics`, { headers: { authorization: `Bearer ${gw.token}` } })).text();
      const line = text.split("\n").find((l) => l.startsWith(name) && (!l.startsWith("photon_chunk_failures_total") || (l.includes('kind="unreachable"') && l.includes(`node="${nodeUrl(hung)}"`))));
      return Number(line?.split(" ").pop() ?? 0);
    };
    const ranged = async () => {
      const out = await s3.send(new GetObjectCommand({ Bucket: "replicated", Key: "hung", Range: "bytes=1000000-2999999" }));
      return Buffer.from(await out.Body!.transformToByteArray());
    };
    const failuresBefore = await metric("photon_chunk_failures_total");
    process.kill(hung.proc.proc.pid, "SIGSTOP");
    try {
      expect((await ranged()).equals(body.subarray(1_000_000, 3_000_000))).toBe(true);
      expect(await metric("photon_chunk_failures_total")).toBeGreaterThan(failuresBefore); // the deadline it missed
      expect(await metric("photon_chunk_nodes_unhealthy")).toBe(1);
      // Marked unhealthy: the next read, a PUT and a DELETE do not wait for it.
      expect((await ranged()).equals(body.subarray(1_000_000, 3_000_000))).toBe(true);
      await s3.send(new PutObjectCommand({ Bucket: "replicated", Key: "while-hung", Body: randomBytes(100_000) }));
      await s3.send(new DeleteObjectCommand({ Bucket: "replicated", Key: "while-hung" }));
    } finally {
      process.kill(hung.proc.proc.pid, "SIGCONT");
    }
    // Once it answers again, a probe brings it back.
    await waitFor(async () => (await metric("photon_chunk_nodes_unhealthy")) === 0, "the node to be used again");
  }, 60_000);
});
