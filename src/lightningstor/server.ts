import { existsSync, readFileSync } from "node:fs";
import { hostname } from "node:os";
import { join } from "node:path";
import type { Registry } from "prom-client";
import { redactUrl, type MetadataEngine } from "../db/engine.ts";
import { createAdminApp } from "../http/admin-app.ts";
import { createHttpMetrics } from "../http/metrics.ts";
import { formatHost, serveApp, type ListenAddress, type RunningServer } from "../http/serve.ts";
import { writeFileAtomic } from "../util/fs.ts";
import type { Logger } from "../util/log.ts";
import type { ChunkStore } from "./chunks/chunk-store.ts";
import { LocalChunkStore } from "./chunks/local-chunk-store.ts";
import { ReplicatedChunkStore, type ReplicationConfig } from "./chunks/replicated-chunk-store.ts";
import { ReplicationFailures } from "./chunks/replication-failures.ts";
import { registerReplicationGauges } from "./chunks/replication-gauges.ts";
import { ChunkUpkeep } from "./chunks/upkeep.ts";
import { bucketRoutes, generateKey, keyRoutes } from "./access-routes.ts";
import { S3Metadata, type SharedRepairQueue } from "./metadata.ts";
import { runUpkeepUnderLease } from "./upkeep-lease.ts";
import { createS3Handler } from "./s3/app.ts";
import { createS3Metrics } from "./s3/s3-metrics.ts";
import { listenRaw } from "./http/listener.ts";

/** The s3-gateway's configuration, parsed once by the CLI. */
export interface S3GatewayConfig {
  dataDir: string;
  /** Where buckets, objects and keys are kept: SQLite in the data dir, or a PostgreSQL that gateways share. */
  metadata: MetadataEngine;
  listen: ListenAddress;
  admin: ListenAddress;
  token: string;
  region: string;
  /** Enables virtual-hosted-style requests to `bucket.<domain>`. */
  domain?: string;
  /** A key to ensure exists (scripted setups); otherwise a root key is made on first start. */
  rootKey?: { accessKey: string; secretKey: string };
  /** Chunks on storage nodes (agents) instead of in the data dir. */
  replication?: Omit<ReplicationConfig, "token">;
}

/** The file holding the root key, in shell-sourceable form (mode 0600). */
export const rootKeyFile = "root-key";

/** Starts `photon s3-gateway`: the S3 API on its own listener and the key admin API. */
export async function startS3Gateway(config: S3GatewayConfig, log: Logger): Promise<RunningServer> {
  const meta = await S3Metadata.open(config.dataDir, config.metadata, log);
  if (config.metadata.kind === "postgres") log.info("metadata on PostgreSQL", { url: redactUrl(config.metadata.url) });
  await ensureRootKey(config, meta, log);
  const metrics = createHttpMetrics();
  const { chunks, upkeep } = await openChunkStore(config, meta, metrics.registry, log);
  // One signal stops every background loop of this process.
  const abort = new AbortController();
  const upkept = upkeep && runUpkeepUnderLease({ ...upkeep, meta, holder: `${hostname()}:${process.pid}:${crypto.randomUUID().slice(0, 8)}`, log }, abort.signal);

  const handler = createS3Handler({ meta, chunks, region: config.region, domain: config.domain, log: log.child({ kind: "s3" }), metrics: createS3Metrics(metrics.registry) });
  const s3 = await listenRaw(handler, config.listen, log);
  log.info("listening", { kind: "s3", url: `http://${formatHost(config.listen.hostname)}:${s3.port}` });

  const app = createAdminApp({ token: config.token, log, metrics });
  app.route("/v1/s3/keys", keyRoutes(meta));
  app.route("/v1/s3/buckets", bucketRoutes(meta));
  const admin = serveApp(app, config.admin, log);
  return {
    address: admin.address,
    async stop() {
      await admin.stop();
      await s3.stop();
      abort.abort();
      await upkept;
      await meta.close();
    },
  };
}

/**
 * Upkeep of the copies on storage nodes, at start and then hourly:
 * unreferenced copies at least an hour old go, referenced chunks missing a
 * copy get it back (upkeep.ts). The repair queue is worked every second.
 */
const UPKEEP_EVERY_MS = 60 * 60 * 1000;

/**
 * The storage nodes, with their upkeep, when replication is configured;
 * otherwise the data dir, swept of what interrupted uploads left.
 */
async function openChunkStore(
  config: S3GatewayConfig,
  meta: S3Metadata,
  registry: Registry,
  log: Logger,
): Promise<{ chunks: ChunkStore; upkeep?: { upkeep: ChunkUpkeep; queue: SharedRepairQueue } }> {
  if (config.replication) {
    log.info("chunks are replicated", { nodes: config.replication.nodes, replicas: config.replication.replicas, writeQuorum: config.replication.writeQuorum });
    const chunkLog = log.child({ kind: "chunks" });
    const queue = await meta.repairQueue(chunkLog);
    const chunks = new ReplicatedChunkStore({ ...config.replication, token: config.token }, chunkLog, new ReplicationFailures(chunkLog, registry), queue);
    if (chunks.queue.size > 0) log.info("chunks queued for repair before the restart are completed first", { chunks: chunks.queue.size });
    const upkeep = new ChunkUpkeep(chunks, chunkLog, { collect: { firstMs: 0, everyMs: UPKEEP_EVERY_MS, referenced: () => meta.referencedChunks() } });
    registerReplicationGauges(registry, chunks, upkeep);
    return { chunks, upkeep: { upkeep, queue } };
  }
  const chunks = new LocalChunkStore(join(config.dataDir, "chunks"));
  const referenced = await meta.referencedChunks();
  const swept = chunks.sweep((id) => referenced.has(id));
  if (swept > 0) log.info("removed leftover chunks of interrupted uploads", { chunks: swept });
  return { chunks };
}

/** The configured key is a root key; otherwise the first start makes one and writes it to `root-key`. */
async function ensureRootKey(config: S3GatewayConfig, meta: S3Metadata, log: Logger): Promise<void> {
  if (config.rootKey) {
    await meta.keys.ensureRoot(config.rootKey.accessKey, config.rootKey.secretKey);
    return;
  }
  if ((await meta.keys.list()).length > 0) return;
  const path = join(config.dataDir, rootKeyFile);
  const key = existsSync(path) ? parseRootKey(readFileSync(path, "utf8")) : generateKey();
  await meta.keys.ensureRoot(key.accessKey, key.secretKey);
  writeFileAtomic(path, `AWS_ACCESS_KEY_ID=${key.accessKey}\nAWS_SECRET_ACCESS_KEY=${key.secretKey}\n`, 0o600);
  log.info("created the root S3 key", { accessKey: key.accessKey, file: path });
}

function parseRootKey(text: string): { accessKey: string; secretKey: string } {
  const value = (name: string) => new RegExp(`^${name}=(.+)$`, "m").exec(text)?.[1]?.trim();
  const accessKey = value("AWS_ACCESS_KEY_ID");
  const secretKey = value("AWS_SECRET_ACCESS_KEY");
  if (!accessKey || !secretKey) throw new Error(`${rootKeyFile} is malformed`);
  return { accessKey, secretKey };
}
