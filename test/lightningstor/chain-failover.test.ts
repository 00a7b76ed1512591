import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { CreateBucketCommand, GetObjectCommand, PutObjectCommand, type S3Client } from "@aws-sdk/client-s3";
import { randomBytes } from "node:crypto";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { Readable } from "node:stream";
import { placement } from "../../src/lightningstor/chunks/placement.ts";
import { startAgent, startController, type TestController } from "../helpers/cluster.ts";
import { authed, tempDir, waitFor, type PhotonProcess } from "../helpers/photon.ts";
import { startGateway, type TestGateway } from "../helpers/s3-gateway.ts";

/**
 * Chained replication when the middle node of a chain fails while the chunk
 * streams through it (SIGSTOP or SIGKILL, by PID): the node before it drops it
 * and sends its own copy on to the node after, so the PUT is acknowledged with
 * two copies; the chunk is queued for repair, and the third copy follows once
 * the node is back.
 */

const MiB = 1024 * 1024;

interface Node {
  name: string;
  dataDir: string;
  port: number;
  url: string;
  proc: PhotonProcess;
}

let dir: ReturnType<typeof tempDir>;
let controller: TestController;
const nodes: Node[] = [];
let gw: TestGateway;
let s3: S3Client;

/** A node's complete chunk files (ids → bytes). */
function copies(node: Node): Map<string, Buffer> {
  const root = join(node.dataDir, "chunks");
  if (!existsSync(root)) return new Map();
  const files = readdirSync(root, { recursive: true, encoding: "utf8" }).filter((f) => f.includes("/") && !f.endsWith(".tmp"));
  return new Map(files.map((f) => [f.split("/").pop()!, readFileSync(join(root, f))]));
}

/** The id of a chunk being written on a node (its temporary file), if any. */
function writing(node: Node, known: Set<string>): string | undefined {
  const root = join(node.dataDir, "chunks");
  if (!existsSync(root)) return undefined;
  const tmp = readdirSync(root, { recursive: true, encoding: "utf8" }).find((f) => f.endsWith(".tmp") && !known.has(f.split("/").pop()!.split(".")[0]!));
  return tmp?.split("/").pop()!.split(".")[0];
}

async function gauge(name: string): Promise<number> {
  const text = await (await fetch(`${gw.admin}/metrics`, authed(controller.token))).text();
  return Number(text.split("\n").find((l) => l.startsWith(`${name} `))?.split(" ").pop());
}

/**
 * PUTs a one-chunk object slowly enough to act mid-chain: once its chunk
 * appears on the first node, `fail` is called on the chain's middle node.
 */
async function putFailingMiddle(key: string, body: Buffer, fail: (middle: Node) => void): Promise<{ id: string; middle: Node }> {
  const known = new Set(nodes.flatMap((n) => [...copies(n).keys()]));
  async function* trickle() {
    for (let at = 0; at < body.length; at += 256 * 1024) {
      yield body.subarray(at, at + 256 * 1024);
      await Bun.sleep(30);
    }
  }
  const put = s3.send(new PutObjectCommand({ Bucket: "chain", Key: key, Body: Readable.from(trickle()), ContentLength: body.length }));
  const id = await waitFor(() => nodes.map((n) => writing(n, known)).find(Boolean), "the chunk's first copy under way", 30_000);
  const order = placement(nodes.map((n) => n.url), id);
  const middle = nodes.find((n) => n.url === order[1])!;
  fail(middle);
  await put;
  // Two copies before the acknowledgement: the first node's, and the one it sent on past the middle.
  const first = nodes.find((n) => n.url === order[0])!;
  expect(first.proc.lines.some((l) => l.msg.startsWith("a storage node dropped out of a chained PUT") && l.chunk === id)).toBe(true);
  expect(nodes.filter((n) => copies(n).has(id)).map((n) => n.url).sort()).toEqual([order[0]!, order[2]!].sort());
  return { id, middle };
}

/** Every node holds the chunk, the same bytes, starting with `body`. */
async function allHold(id: string, body: Buffer): Promise<void> {
  const held = await waitFor(() => {
    const all = nodes.map((n) => copies(n).get(id));
    return all.every(Boolean) && (all as Buffer[]);
  }, `chunk ${id} on every node`, 60_000);
  for (const copy of held) {
    expect(copy.subarray(0, body.length).equals(body)).toBe(true);
    expect(copy.equals(held[0]!)).toBe(true);
  }
}

async function readBack(key: string): Promise<Buffer> {
  const out = await s3.send(new GetObjectCommand({ Bucket: "chain", Key: key }));
  return Buffer.from(await out.Body!.transformToByteArray());
}

beforeAll(async () => {
  dir = tempDir("photon-chain-failover-");
  controller = await startController(join(dir.path, "controller"));
  for (const name of ["hop1", "hop2", "hop3"]) {
    const dataDir = join(dir.path, name);
    const proc = await startAgent(controller, dataDir, name);
    const url = await proc.url();
    nodes.push({ name, dataDir, proc, url, port: Number(new URL(url).port) });
  }
  gw = await startGateway({ token: controller.token, args: ["--storage-nodes", nodes.map((n) => n.url).join(","), "--replication-mode", "chain"] });
  s3 = gw.client();
  await s3.send(new CreateBucketCommand({ Bucket: "chain" }));
});

afterAll(async () => {
  s3.destroy();
  await gw[Symbol.asyncDispose]();
  for (const node of nodes) {
    node.proc.proc.kill("SIGCONT");
    await node.proc[Symbol.asyncDispose]();
  }
  await controller.proc[Symbol.asyncDispose]();
  dir[Symbol.dispose]();
});

describe("a chain whose middle node fails mid-chunk", () => {
  test("SIGSTOP: acknowledged with two copies, reads back identical, queued for repair, repaired once the node resumes", async () => {
    const body = randomBytes(12 * MiB);
    const { id, middle } = await putFailingMiddle("stopped", body, (node) => node.proc.proc.kill("SIGSTOP"));
    expect((await readBack("stopped")).equals(body)).toBe(true);
    expect(copies(middle).has(id)).toBe(false);
    expect(await gauge("photon_chunks_under_replicated")).toBeGreaterThanOrEqual(1);
    middle.proc.proc.kill("SIGCONT");
    await allHold(id, body);
    await waitFor(async () => (await gauge("photon_chunks_under_replicated")) === 0, "the repair queue to empty", 60_000);
  });

  test("SIGKILL: acknowledged with two copies, reads back identical, repaired once the node is back", async () => {
    const body = randomBytes(12 * MiB);
    const { id, middle } = await putFailingMiddle("killed", body, (node) => node.proc.proc.kill("SIGKILL"));
    expect((await readBack("killed")).equals(body)).toBe(true);
    await middle.proc.exited;
    expect(copies(middle).has(id)).toBe(false);
    expect(await gauge("photon_chunks_under_replicated")).toBeGreaterThanOrEqual(1);
    middle.proc = await startAgent(controller, middle.dataDir, middle.name, middle.port);
    await allHold(id, body);
    await waitFor(async () => (await gauge("photon_chunks_under_replicated")) === 0, "the repair queue to empty", 60_000);
  });
});
