import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { CreateBucketCommand, GetObjectCommand, PutObjectCommand, S3Client } from "@aws-sdk/client-s3";
import { randomBytes } from "node:crypto";
import { existsSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { startAgent, startController, type TestController } from "../helpers/cluster.ts";
import { authed, runPhoton, startPhoton, tempDir, waitFor, type PhotonProcess } from "../helpers/photon.ts";

/**
 * The gateway takes its storage nodes from the controller (no --storage-nodes):
 * R = 3 over four agents in two zones. A node lost for good has its copies
 * made again on the others once its grace period is over; a drained node is
 * emptied; a node that returns gets back its place and the extra copies made
 * meanwhile go; a gateway restarted while a node is down still repairs; data
 * stored through a --storage-nodes list is read after the switch and moved to
 * where the controller's membership places it.
 */

interface Node {
  name: string;
  zone: string;
  dataDir: string;
  port: number;
  proc: PhotonProcess;
}

const dir = tempDir("photon-membership-");
const credentials = { accessKeyId: "PHTESTKEY0000000000M", secretAccessKey: "membership-secret-" + crypto.randomUUID() };
const gatewayDir = join(dir.path, "gateway");
const GRACE_MS = 1500;
let controller: TestController;
const nodes: Node[] = [];
let gateway: { proc: PhotonProcess; s3: S3Client; admin: string } | undefined;
/** Every object written, to read back. */
const objects = new Map<string, Buffer>();
/** Chunks written while node1 was lost. */
const writtenWhileLost = new Set<string>();

/** Starts (or restarts) the gateway on its data dir: over the controller's storage nodes, or `args` instead. */
async function startGateway(args = ["--controller", "", "--node-grace", String(GRACE_MS)]): Promise<NonNullable<typeof gateway>> {
  const resolved = args.map((a, i) => (args[i - 1] === "--controller" ? controller.url : a));
  const proc = startPhoton(["s3-gateway", "--data-dir", gatewayDir, "--listen", "127.0.0.1:0", "--admin", "127.0.0.1:0", "--replicas", "3", ...resolved], {
    env: { PHOTON_TOKEN: controller.token, PHOTON_ACCESS_KEY: credentials.accessKeyId, PHOTON_SECRET_KEY: credentials.secretAccessKey },
  });
  const endpoint = await proc.url("s3");
  gateway = { proc, s3: new S3Client({ endpoint, region: "us-east-1", forcePathStyle: true, credentials }), admin: await proc.url() };
  return gateway;
}

async function stopGateway(): Promise<void> {
  gateway!.s3.destroy();
  expect(await gateway!.proc.stop()).toBe(0);
  gateway = undefined;
}

async function startNode(node: Omit<Node, "proc" | "port"> & { port?: number }): Promise<Node> {
  const proc = await startAgent(controller, node.dataDir, node.name, node.port ?? 0, ["--roles", "storage", "--zone", node.zone]);
  return { ...node, proc, port: Number(new URL(await proc.url()).port) };
}

/** The chunk ids a node holds on disk. */
function chunkIds(node: Node): string[] {
  const root = join(node.dataDir, "chunks");
  if (!existsSync(root)) return [];
  return readdirSync(root, { recursive: true, encoding: "utf8" })
    .filter((f) => f.includes("/") && !f.endsWith(".tmp"))
    .map((f) => f.split("/").pop()!);
}

/** Which of `among` hold each chunk any of them holds. */
function holders(among: Node[]): Map<string, Node[]> {
  const map = new Map<string, Node[]>();
  for (const node of among) for (const id of chunkIds(node)) map.set(id, [...(map.get(id) ?? []), node]);
  return map;
}

/** True once every chunk has exactly three copies on `among`, in both zones. */
function everyChunkAtR(among: Node[], chunks: number): boolean {
  const map = holders(among);
  return map.size === chunks && [...map.values()].every((held) => held.length === 3 && new Set(held.map((n) => n.zone)).size === 2);
}

/** Puts `count` small objects (one chunk each) under `prefix`. */
async function putObjects(prefix: string, count: number): Promise<void> {
  for (let i = 0; i < count; i++) {
    const body = randomBytes(50_000 + i * 1000);
    await gateway!.s3.send(new PutObjectCommand({ Bucket: "members", Key: `${prefix}${i}`, Body: body }));
    objects.set(`${prefix}${i}`, body);
  }
}

/** Reads every object back and compares it byte for byte. */
async function expectAllReadBack(): Promise<void> {
  for (const [key, body] of objects) {
    const got = await gateway!.s3.send(new GetObjectCommand({ Bucket: "members", Key: key }));
    expect(Buffer.from(await got.Body!.transformToByteArray()).equals(body)).toBe(true);
  }
}

async function repairStatus(): Promise<{ underReplicated: number; misplaced: number; nodes: { name: string; state: string; drained: boolean; zone?: string }[] }> {
  const { code, stdout, stderr } = await runPhoton(["s3", "repair", "status", "--server", gateway!.admin, "--json"], { env: { PHOTON_TOKEN: controller.token } });
  expect({ code, stderr }).toEqual({ code: 0, stderr: "" });
  return JSON.parse(stdout);
}

async function controllerCall(method: string, path: string): Promise<void> {
  const response = await fetch(`${controller.url}${path}`, authed(controller.token, { method }));
  expect(response.ok).toBe(true);
}

beforeAll(async () => {
  controller = await startController(join(dir.path, "controller"));
  for (const [i, zone] of ["a", "a", "b", "b"].entries()) {
    const name = `node${i + 1}`;
    nodes.push(await startNode({ name, zone, dataDir: join(dir.path, name) }));
  }
});

afterAll(async () => {
  gateway?.s3.destroy();
  await gateway?.proc[Symbol.asyncDispose]();
  for (const node of nodes) await node.proc[Symbol.asyncDispose]();
  await controller.proc[Symbol.asyncDispose]();
  dir[Symbol.dispose]();
});

describe("storage nodes from the controller", () => {
  test("data stored through a --storage-nodes list of three is read after the switch to the controller's four, then spread over all four", async () => {
    const three = nodes.slice(0, 3).map((n) => `http://127.0.0.1:${n.port}`).join(",");
    await startGateway(["--storage-nodes", three]);
    await gateway!.s3.send(new CreateBucketCommand({ Bucket: "members" }));
    await putObjects("fixed-", 12);
    expect(chunkIds(nodes[3]!)).toEqual([]);
    await stopGateway();

    await startGateway();
    await expectAllReadBack();
    await waitFor(() => chunkIds(nodes[3]!).length > 0 && everyChunkAtR(nodes, 12), "copies moved to the fourth node, three a chunk over both zones");
    const status = await repairStatus();
    expect(status.nodes.map((n) => [n.name, n.state, n.zone]).sort()).toEqual([["node1", "up", "a"], ["node2", "up", "a"], ["node3", "up", "b"], ["node4", "up", "b"]]);
    // A pass run now finds every copy where it belongs.
    const { code, stdout } = await runPhoton(["s3", "repair", "run", "--server", gateway!.admin, "--json"], { env: { PHOTON_TOKEN: controller.token } });
    expect(code).toBe(0);
    expect(JSON.parse(stdout)).toMatchObject({ chunks: 12, underReplicated: 0, copied: 0, misplaced: 0, removed: 0, unreadable: 0, unreferenced: 0 });
    await putObjects("members-", 12);
    await waitFor(() => everyChunkAtR(nodes, 24), "the new objects' chunks at three copies over both zones");
  }, 90_000);

  test("a drained node is emptied onto the others; undrained, it takes its share back and the extra copies go", async () => {
    const drained = nodes[1]!;
    await controllerCall("POST", `/v1/nodes/${drained.name}/drain`);
    await waitFor(() => chunkIds(drained).length === 0, "the drained node to be emptied", 60_000);
    const others = nodes.filter((n) => n !== drained);
    // Zone a has one node left: each chunk keeps a copy there and two in zone b.
    expect([...holders(others).values()].every((held) => held.length === 3)).toBe(true);
    expect(holders(others).size).toBe(24);
    await expectAllReadBack();

    await controllerCall("POST", `/v1/nodes/${drained.name}/undrain`);
    await waitFor(() => chunkIds(drained).length > 0 && everyChunkAtR(nodes, 24), "the node to take its share back with three copies a chunk", 60_000);
  }, 120_000);

  test("a node killed for good: after its grace every chunk has three copies again on the others, and reads are byte-identical", async () => {
    const lost = nodes[0]!;
    await lost.proc.stop("SIGKILL");
    const rest = nodes.filter((n) => n !== lost);
    await waitFor(async () => (await repairStatus()).nodes.find((n) => n.name === lost.name)?.state === "lost", "the node to be lost once its grace is over");
    await waitFor(() => [...holders(rest).values()].every((held) => held.length === 3) && holders(rest).size === 24, "every chunk at three copies without the lost node", 60_000);
    await expectAllReadBack();
    await waitFor(async () => (await repairStatus()).underReplicated === 0, "nothing under-replicated");
    const before = new Set(holders(rest).keys());
    await putObjects("while-lost-", 6);
    for (const id of holders(rest).keys()) if (!before.has(id)) writtenWhileLost.add(id);
    expect(writtenWhileLost.size).toBe(6);
  }, 120_000);

  test("the node returns: it gets the copies of objects written while it was away, and the extra copies made meanwhile go", async () => {
    const returning = nodes[0]!;
    nodes[0] = await startNode({ ...returning, port: returning.port });
    // Chunks written while it was away that belong on it get there (with six chunks, some do but for a 1-in-4^6 chance).
    const gotMissed = () => chunkIds(nodes[0]!).some((id) => writtenWhileLost.has(id));
    await waitFor(() => gotMissed() && everyChunkAtR(nodes, 30), "the missed copies on the returned node and three copies a chunk over all four again", 60_000);
    await expectAllReadBack();
  }, 120_000);

  test("a gateway restarted while a node is down still makes its copies again once the grace is over", async () => {
    await stopGateway();
    const down = nodes[2]!;
    await down.proc.stop("SIGKILL");
    // Long enough for the controller to mark it down (600 ms without heartbeats) before the gateway starts.
    await waitFor(async () => ((await (await fetch(`${controller.url}/v1/nodes/${down.name}`, authed(controller.token))).json()) as { state: string }).state === "down", "the controller to mark the node down");
    await startGateway();
    const rest = nodes.filter((n) => n !== down);
    await waitFor(() => [...holders(rest).values()].every((held) => held.length === 3) && holders(rest).size === 30, "every chunk at three copies without the down node", 60_000);
    await expectAllReadBack();
  }, 120_000);
});
