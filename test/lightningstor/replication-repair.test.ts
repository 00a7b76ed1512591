import { afterAll, beforeAll, expect, test } from "bun:test";
import { CreateBucketCommand, GetObjectCommand, PutObjectCommand, S3Client } from "@aws-sdk/client-s3";
import { randomBytes } from "node:crypto";
import { existsSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { startAgent, startController, type TestController } from "../helpers/cluster.ts";
import { authed, startPhoton, tempDir, waitFor, type PhotonProcess } from "../helpers/photon.ts";

/**
 * The repair queue lives in the gateway's database: copies a node missed while
 * down are given to it when it returns, even if the gateway restarted meanwhile.
 */

interface Node {
  name: string;
  dataDir: string;
  port: number;
  proc: PhotonProcess;
}

const dir = tempDir("photon-repair-");
let controller: TestController;
const nodes: Node[] = [];
const credentials = { accessKeyId: "PHTESTKEY0000000000R", secretAccessKey: "repair-secret-" + crypto.randomUUID() };
const gatewayDir = join(dir.path, "gateway");
let gateway: PhotonProcess | undefined;

/** Starts (or restarts) the gateway over the three nodes, on its one data dir. */
async function startGateway(): Promise<{ s3: S3Client; admin: string }> {
  const storageNodes = nodes.map((n) => `http://127.0.0.1:${n.port}`).join(",");
  gateway = startPhoton(["s3-gateway", "--data-dir", gatewayDir, "--listen", "127.0.0.1:0", "--admin", "127.0.0.1:0", "--storage-nodes", storageNodes], {
    env: { PHOTON_TOKEN: controller.token, PHOTON_ACCESS_KEY: credentials.accessKeyId, PHOTON_SECRET_KEY: credentials.secretAccessKey },
  });
  const endpoint = await gateway.url("s3");
  return { s3: new S3Client({ endpoint, region: "us-east-1", forcePathStyle: true, credentials }), admin: await gateway.url() };
}

/** The chunk ids a node holds. */
function chunkIds(node: Node): string[] {
  const root = join(node.dataDir, "chunks");
  if (!existsSync(root)) return [];
  return readdirSync(root, { recursive: true, encoding: "utf8" })
    .filter((f) => f.includes("/") && !f.endsWith(".tmp"))
    .map((f) => f.split("/").pop()!);
}

async function gauge(admin: string, name: string): Promise<number> {
  const text = await (await fetch(`${admin}/metrics`, authed(controller.token))).text();
  const line = text.split("\n").find((l) => l.startsWith(`${name} `));
  return Number(line?.split(" ").pop());
}

beforeAll(async () => {
  controller = await startController(join(dir.path, "controller"));
  for (const name of ["node1", "node2", "node3"]) {
    const dataDir = join(dir.path, name);
    const proc = await startAgent(controller, dataDir, name);
    nodes.push({ name, dataDir, proc, port: Number(new URL(await proc.url()).port) });
  }
});

afterAll(async () => {
  await gateway?.[Symbol.asyncDispose]();
  for (const node of nodes) await node.proc[Symbol.asyncDispose]();
  await controller.proc[Symbol.asyncDispose]();
  dir[Symbol.dispose]();
});

test("a node down across a gateway restart still gets the copies it missed once it returns; /metrics counts them until then", async () => {
  let { s3, admin } = await startGateway();
  await s3.send(new CreateBucketCommand({ Bucket: "repair" }));
  const down = nodes[0]!;
  await down.proc.stop("SIGKILL");
  const before = new Set(chunkIds(nodes[1]!));
  const body = randomBytes(300_000);
  await s3.send(new PutObjectCommand({ Bucket: "repair", Key: "missed", Body: body }));
  const id = chunkIds(nodes[1]!).find((c) => !before.has(c))!;
  expect(id).toBeDefined();
  await waitFor(async () => (await gauge(admin, "photon_chunks_under_replicated")) === 1, "the chunk to be counted under-replicated");
  s3.destroy();
  expect(await gateway!.stop()).toBe(0);

  ({ s3, admin } = await startGateway());
  expect(await gauge(admin, "photon_chunks_under_replicated")).toBe(1);
  down.proc = await startAgent(controller, down.dataDir, down.name, down.port);
  await waitFor(() => chunkIds(down).includes(id), "the returned node to get the copy it missed");
  await waitFor(async () => (await gauge(admin, "photon_chunks_under_replicated")) === 0, "the repair queue to empty");
  const got = await s3.send(new GetObjectCommand({ Bucket: "repair", Key: "missed" }));
  expect(Buffer.from(await got.Body!.transformToByteArray()).equals(body)).toBe(true);
  s3.destroy();
}, 60_000);
