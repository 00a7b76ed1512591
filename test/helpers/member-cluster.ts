import { S3Client } from "@aws-sdk/client-s3";
import { Database } from "bun:sqlite";
import { existsSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { startAgent, startController, type TestController } from "./cluster.ts";
import { runPhoton, startPhoton, type PhotonProcess } from "./photon.ts";

/**
 * A LightningStor cluster as operators run it: a controller, agents with the
 * storage role, and a gateway that takes its storage nodes from the controller
 * (`--controller`, no `--storage-nodes`). All the compiled binary.
 */

/** An agent with the storage role, kept on its data dir and port across restarts. */
export interface MemberNode {
  name: string;
  dataDir: string;
  port: number;
  proc: PhotonProcess;
}

/** The gateway, its endpoints and an SDK client with default settings. */
export interface MemberGateway {
  proc: PhotonProcess;
  endpoint: string;
  admin: string;
  credentials: { accessKeyId: string; secretAccessKey: string };
  s3: S3Client;
}

/** What `photon s3 repair status --json` prints (the fields the tests read). */
export interface RepairStatusJson {
  underReplicated: number;
  queued: number;
  repairing: number;
  misplaced: number;
  nodes: { name: string; state: string; drained: boolean; healthy: boolean }[];
  /** The rebalance pass running now, if any, with the copies it wrote so far. */
  pass: { current?: { copied: number } };
}

/** The cluster: `gateway` is the one running now (replaced by `startGateway`); `controller` may be replaced by a restarted one on its address. */
export interface MemberCluster {
  controller: TestController;
  nodes: MemberNode[];
  gateway: MemberGateway;
  gatewayDir: string;
  credentials: { accessKeyId: string; secretAccessKey: string };
  /** Starts (or restarts, on the same data dir) the gateway with `args` added. */
  startGateway(args?: string[]): Promise<MemberGateway>;
  /** Starts a stopped node again on its data dir and port. */
  restartNode(node: MemberNode): Promise<void>;
  repairStatus(): Promise<RepairStatusJson>;
  /** Ends the gateway, the agents and the controller (SIGCONT first, for a node left stopped). */
  stop(): Promise<void>;
}

/** Options of `startMemberCluster`. */
export interface MemberClusterOptions {
  /** Agents with the storage role (default 4). */
  nodes?: number;
  /** Added to every gateway start (e.g. `--node-grace 1500`); `--replicas 3` is always given. */
  gatewayArgs?: string[];
  /** Added to each agent's arguments. */
  agentArgs?: (index: number) => string[];
}

/** Starts the controller, the agents and the gateway under `dir`. */
export async function startMemberCluster(dir: string, options: MemberClusterOptions = {}): Promise<MemberCluster> {
  const controller = await startController(join(dir, "controller"));
  const credentials = { accessKeyId: "PHTESTKEY0000000000C", secretAccessKey: "cluster-secret-" + crypto.randomUUID() };
  const gatewayDir = join(dir, "gateway");
  const nodes: MemberNode[] = [];
  const agentArgs = (i: number) => ["--roles", "storage", ...(options.agentArgs?.(i) ?? [])];
  for (let i = 0; i < (options.nodes ?? 4); i++) {
    const name = `node${i + 1}`;
    const dataDir = join(dir, name);
    const proc = await startAgent(controller, dataDir, name, 0, agentArgs(i));
    nodes.push({ name, dataDir, proc, port: Number(new URL(await proc.url()).port) });
  }

  const cluster: MemberCluster = {
    controller,
    nodes,
    gatewayDir,
    credentials,
    gateway: undefined as unknown as MemberGateway,
    async startGateway(args = []) {
      const all = ["--controller", cluster.controller.url, "--replicas", "3", ...(options.gatewayArgs ?? []), ...args];
      const proc = startPhoton(["s3-gateway", "--data-dir", gatewayDir, "--listen", "127.0.0.1:0", "--admin", "127.0.0.1:0", ...all], {
        env: { PHOTON_TOKEN: cluster.controller.token, PHOTON_ACCESS_KEY: credentials.accessKeyId, PHOTON_SECRET_KEY: credentials.secretAccessKey },
      });
      const endpoint = await proc.url("s3");
      cluster.gateway = { proc, endpoint, admin: await proc.url(), credentials, s3: new S3Client({ endpoint, region: "us-east-1", forcePathStyle: true, credentials }) };
      return cluster.gateway;
    },
    async restartNode(node) {
      node.proc = await startAgent(cluster.controller, node.dataDir, node.name, node.port, agentArgs(nodes.indexOf(node)));
    },
    async repairStatus() {
      const { code, stdout, stderr } = await runPhoton(["s3", "repair", "status", "--server", cluster.gateway.admin, "--json"], { env: { PHOTON_TOKEN: cluster.controller.token } });
      if (code !== 0) throw new Error(`photon s3 repair status failed: ${stderr}`);
      return JSON.parse(stdout) as RepairStatusJson;
    },
    async stop() {
      cluster.gateway?.s3.destroy();
      await cluster.gateway?.proc[Symbol.asyncDispose]();
      for (const node of nodes) {
        if (node.proc.proc.exitCode === null && node.proc.proc.signalCode === null) process.kill(node.proc.proc.pid, "SIGCONT");
        await node.proc[Symbol.asyncDispose]();
      }
      await cluster.controller.proc[Symbol.asyncDispose]();
    },
  };
  await cluster.startGateway();
  return cluster;
}

/** The chunk ids a node holds on disk (temp files excluded). */
export function chunkIdsOn(node: { dataDir: string }): string[] {
  const root = join(node.dataDir, "chunks");
  if (!existsSync(root)) return [];
  return readdirSync(root, { recursive: true, encoding: "utf8" })
    .filter((f) => f.includes("/") && !f.endsWith(".tmp"))
    .map((f) => f.split("/").pop()!);
}

/** For each chunk any of `nodes` holds, the names of the nodes holding a copy. */
export function copiesByChunk(nodes: MemberNode[]): Map<string, string[]> {
  const map = new Map<string, string[]>();
  for (const node of nodes) for (const id of chunkIdsOn(node)) map.set(id, [...(map.get(id) ?? []), node.name]);
  return map;
}

/**
 * The chunk ids the gateway's objects reference now, read from its database
 * (read-only, beside the running gateway: SQLite's WAL lets a reader in).
 */
export function referencedChunks(gatewayDir: string): Set<string> {
  const db = new Database(join(gatewayDir, "s3-gateway.db"), { readonly: true });
  try {
    const rows = db.query<{ chunks: string }, []>("SELECT chunks FROM objects").all();
    return new Set(rows.flatMap((row) => (JSON.parse(row.chunks) as { id: string }[]).map((c) => c.id)));
  } finally {
    db.close();
  }
}

/** True once every chunk the gateway references has exactly `copies` copies on `nodes` (R = 3 on three nodes: one on each). */
export function everyReferencedChunkHas(cluster: MemberCluster, nodes: MemberNode[], copies = 3): boolean {
  const held = copiesByChunk(nodes);
  return [...referencedChunks(cluster.gatewayDir)].every((id) => held.get(id)?.length === copies);
}

/** Failures the gateway counted against `node` on `/metrics` (`photon_chunk_failures_total`, every kind). */
export async function failuresOf(cluster: MemberCluster, node: MemberNode): Promise<number> {
  const text = await (await fetch(`${cluster.gateway.admin}/metrics`, { headers: { authorization: `Bearer ${cluster.controller.token}` } })).text();
  return text
    .split("\n")
    .filter((l) => l.startsWith("photon_chunk_failures_total{") && l.includes(`:${node.port}"`))
    .reduce((sum, l) => sum + Number(l.split(" ").pop()), 0);
}
