import { S3Client } from "@aws-sdk/client-s3";
import { existsSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { startAgent, startController, type TestController } from "./cluster.ts";
import { startPhoton, type PhotonProcess } from "./photon.ts";

/** An agent serving chunk copies, with the data dir its copies are under. */
export interface StorageNode {
  name: string;
  dataDir: string;
  url: string;
  proc: PhotonProcess;
}

/** A controller and `count` agents as storage nodes under `dir`; `stop` ends them all. */
export async function startStorageNodes(dir: string, count = 3): Promise<{ controller: TestController; nodes: StorageNode[]; stop(): Promise<void> }> {
  const controller = await startController(join(dir, "controller"));
  const nodes: StorageNode[] = [];
  for (let n = 1; n <= count; n++) {
    const dataDir = join(dir, `node${n}`);
    const proc = await startAgent(controller, dataDir, `node${n}`);
    nodes.push({ name: `node${n}`, dataDir, proc, url: await proc.url() });
  }
  return {
    controller,
    nodes,
    async stop() {
      for (const node of nodes) await node.proc[Symbol.asyncDispose]();
      await controller.proc[Symbol.asyncDispose]();
    },
  };
}

/** The chunk files a node holds (temp files excluded), by path. */
export function nodeChunkFiles(node: StorageNode): string[] {
  const root = join(node.dataDir, "chunks");
  if (!existsSync(root)) return [];
  return readdirSync(root, { recursive: true, encoding: "utf8" })
    .filter((f) => f.includes("/") && !f.endsWith(".tmp"))
    .map((f) => join(root, f));
}

/** The chunk ids a node holds. */
export const nodeChunkIds = (node: StorageNode): string[] => nodeChunkFiles(node).map((f) => f.split("/").pop()!);

/** A gateway over storage nodes on its own data dir (kept across restarts), with an SDK client. */
export interface NodeGateway {
  proc: PhotonProcess;
  s3: S3Client;
  admin: string;
}

/** Starts (or restarts, on the same `dataDir`) a gateway over `nodes`; `args` are added to its command line. */
export async function startNodeGateway(
  controller: TestController,
  nodes: StorageNode[],
  dataDir: string,
  credentials: { accessKeyId: string; secretAccessKey: string },
  args: string[] = [],
): Promise<NodeGateway> {
  const storageNodes = nodes.map((n) => n.url).join(",");
  const proc = startPhoton(["s3-gateway", "--data-dir", dataDir, "--listen", "127.0.0.1:0", "--admin", "127.0.0.1:0", "--storage-nodes", storageNodes, ...args], {
    env: { PHOTON_TOKEN: controller.token, PHOTON_ACCESS_KEY: credentials.accessKeyId, PHOTON_SECRET_KEY: credentials.secretAccessKey },
  });
  const endpoint = await proc.url("s3");
  return { proc, s3: new S3Client({ endpoint, region: "us-east-1", forcePathStyle: true, credentials }), admin: await proc.url() };
}
