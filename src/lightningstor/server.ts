import { existsSync, readFileSync } from "node:fs";
import { hostname } from "node:os";
import { join } from "node:path";
import type { Hono } from "hono";
import type { Registry } from "prom-client";
import { redactUrl, type MetadataEngine } from "../db/engine.ts";
import { createAdminApp } from "../http/admin-app.ts";
import { createHttpMetrics } from "../http/metrics.ts";
import type { TrustedCa } from "../http/client-tls.ts";
import { formatHost, serveApp, type ListenAddress, type RunningServer } from "../http/serve.ts";
import type { ServerCertificate } from "../http/server-certificate.ts";
import { writeFileAtomic } from "../util/fs.ts";
import type { TokenLike } from "../util/token.ts";
import type { Logger } from "../util/log.ts";
import type { ChunkStore } from "./chunks/chunk-store.ts";
import { LocalChunkStore } from "./chunks/local-chunk-store.ts";
import { AdminClient } from "../http/admin-client.ts";
import { ControllerMembership, type RegisteredNode } from "./chunks/membership-controller.ts";
import { ChunkRebalance } from "./chunks/rebalance.ts";
import { repairRoutes } from "./chunks/repair-routes.ts";
import { ClientActivity, RepairThrottle } from "./chunks/repair-throttle.ts";
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
import { DEFAULT_LIMITS } from "./http/listener-limits.ts";

/** The s3-gateway's configuration, parsed once by the CLI. */
export interface S3GatewayConfig {
  dataDir: string;
  /** Where buckets, objects and keys are kept: SQLite in the data dir, or a PostgreSQL that gateways share. */
  metadata: MetadataEngine;
  listen: ListenAddress;
  admin: ListenAddress;
  token: TokenLike;
  region: string;
  /** Enables virtual-hosted-style requests to `bucket.<domain>`. */
  domain?: string;
  /** A key to ensure exists (scripted setups); otherwise a root key is made on first start. */
  rootKey?: { accessKey: string; secretKey: string };
  /** Chunks on storage nodes (agents) instead of in the data dir. */
  replication?: GatewayReplication;
  /** How often unreferenced copies on storage nodes are collected, and how old they must be (default an hour). */
  gcEveryMs?: number;
  /** The S3 API and the admin API serve HTTPS with this certificate (reloadable). */
  tls?: ServerCertificate;
  /** The CA https:// storage nodes and the controller are verified against. */
  ca?: TrustedCa;
}

/** Replication as the gateway is started with it: a fixed node list, or the controller's storage nodes. */
export type GatewayReplication = Omit<ReplicationConfig, "token" | "membership" | "ca"> & {
  /** The controller whose agents with the storage role are the storage nodes (when `nodes` is not given). */
  controllerUrl?: string;
  /** A node down this long is lost: its copies are made again elsewhere (default 5 min). */
  graceMs?: number;
  /** Bytes a second repairs may write (default 64 MiB/s). */
  repairBytesPerSecond?: number;
};

/** The file holding the root key, in shell-sourceable form (mode 0600). */
export const rootKeyFile = "root-key";

/** Starts `photon s3-gateway`: the S3 API on its own listener and the key admin API. */
export async function startS3Gateway(config: S3GatewayConfig, log: Logger): Promise<RunningServer> {
  const meta = await S3Metadata.open(config.dataDir, config.metadata, log);
  if (config.metadata.kind === "postgres") log.info("metadata on PostgreSQL", { url: redactUrl(config.metadata.url) });
  await ensureRootKey(config, meta, log);
  const metrics = createHttpMetrics();
  // Repairs slow down while clients are being served (repair-throttle.ts).
  const clients = new ClientActivity();
  const { chunks, start, routes } = await openChunkStore(config, meta, metrics.registry, log, clients);
  // One signal stops every background loop of this process.
  const abort = new AbortController();
  const upkept = start?.(abort.signal);

  const s3Metrics = createS3Metrics(metrics.registry);
  const s3Handler = createS3Handler({ meta, chunks, region: config.region, domain: config.domain, log: log.child({ kind: "s3" }), metrics: s3Metrics });
  const handler: typeof s3Handler = (request, target) => {
    clients.touch();
    return s3Handler(request, target);
  };
  const s3 = await listenRaw(handler, config.listen, log, DEFAULT_LIMITS, (reason) => s3Metrics.cut(reason), config.tls);
  log.info("listening", { kind: "s3", url: `${config.tls ? "https" : "http"}://${formatHost(config.listen.hostname)}:${s3.port}` });

  const app = createAdminApp({ token: config.token, log, metrics });
  app.route("/v1/s3/keys", keyRoutes(meta));
  app.route("/v1/s3/buckets", bucketRoutes(meta));
  if (routes) app.route("/v1/s3/repair", routes);
  const admin = serveApp(app, config.admin, log, { tls: config.tls });
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
 * Upkeep of the copies on storage nodes, at start and then hourly unless
 * configured: unreferenced copies this gateway wrote, at least that old, go
 * (gc.ts); referenced chunks missing a copy get it back (upkeep.ts). The
 * repair queue is worked every second.
 */
const UPKEEP_EVERY_MS = 60 * 60 * 1000;

/**
 * With metadata on PostgreSQL, unreferenced copies younger than this are never
 * collected: the lease holder's collection cannot see which chunks another
 * gateway is writing for an object or part not yet committed (a PUT's ids are
 * known only in its own process), so it leaves them the day a write may take.
 */
const SHARED_GC_MIN_AGE_MS = 24 * 60 * 60 * 1000;

/** A storage node down longer than this is lost, by default: its copies are made again on the others. */
export const DEFAULT_NODE_GRACE_MS = 5 * 60 * 1000;

/** The chunk store, and what it runs in the background (until the signal aborts) and serves on the admin API. */
interface OpenedChunks {
  chunks: ChunkStore;
  start?: (signal: AbortSignal) => Promise<void>;
  routes?: Hono;
}

/**
 * The storage nodes, with their upkeep and rebalance passes, when replication
 * is configured — a fixed list, or the controller's storage nodes, followed
 * (asked once before the gateway serves); otherwise the data dir, swept of
 * what interrupted uploads left.
 */
async function openChunkStore(config: S3GatewayConfig, meta: S3Metadata, registry: Registry, log: Logger, clients: ClientActivity): Promise<OpenedChunks> {
  const replication = config.replication;
  if (replication) {
    const chunkLog = log.child({ kind: "chunks" });
    const owner = await meta.gatewayId();
    // The controller's node API (controller/node-routes.ts), over the shared admin client: services do not import the controller.
    // One client, so that it keeps to the active controller of a list.
    const controller = replication.nodes ? undefined : new AdminClient(replication.controllerUrl!, config.token, config.ca);
    const membership = !controller
      ? undefined
      : new ControllerMembership({
          list: async (signal) => (await controller.request<{ nodes: RegisteredNode[] }>("GET", "/v1/nodes", undefined, signal)).nodes,
          graceMs: replication.graceMs ?? DEFAULT_NODE_GRACE_MS,
          cachePath: join(config.dataDir, "storage-nodes.json"),
          log: chunkLog,
        });
    if (membership && !(await membership.refresh())) log.warn("starting without storage nodes until the controller answers", { controller: replication.controllerUrl });
    // Logged at start and whenever the controller's storage nodes change (the lab's bench reads the last one).
    const logNodes = () => log.info("chunks are replicated", { nodes: chunks.nodes, replicas: replication.replicas, writeQuorum: replication.writeQuorum, mode: replication.mode ?? "fanout", gateway: owner, ...(membership ? { controller: replication.controllerUrl } : {}) });
    const queue = await meta.repairQueue(chunkLog);
    const chunks = new ReplicatedChunkStore({ ...replication, ...(membership ? { membership } : {}), token: config.token, owner, ca: config.ca }, chunkLog, new ReplicationFailures(chunkLog, registry), queue);
    if (chunks.queue.size > 0) log.info("chunks queued for repair before the restart are completed first", { chunks: chunks.queue.size });
    logNodes();
    const referenced = () => meta.referencedChunks();
    const throttle = new RepairThrottle(replication.repairBytesPerSecond, undefined, clients);
    const everyMs = config.gcEveryMs ?? UPKEEP_EVERY_MS;
    // Gateways sharing PostgreSQL share the owner id, and only the lease holder collects: it cannot know which ids the others are writing now.
    const minAgeMs = config.metadata.kind === "postgres" ? Math.max(everyMs, SHARED_GC_MIN_AGE_MS) : everyMs;
    const upkeep = new ChunkUpkeep(chunks, chunkLog, { throttle, collect: { firstMs: 0, everyMs, minAgeMs, owner, referenced } });
    const rebalance = new ChunkRebalance(chunks, chunkLog, { referenced, throttle, everyMs: UPKEEP_EVERY_MS });
    // A node that joins, returns, is drained or lost moves copies: pass at once.
    membership?.onChange(() => {
      logNodes();
      void rebalance.trigger();
    });
    registerReplicationGauges(registry, { store: chunks, upkeep, rebalance });
    const holder = `${hostname()}:${process.pid}:${crypto.randomUUID().slice(0, 8)}`;
    const start = async (signal: AbortSignal) => {
      await Promise.all([runUpkeepUnderLease({ upkeep, queue, meta, holder, log }, signal), rebalance.run(signal), membership?.start(signal)]);
    };
    return { chunks, start, routes: repairRoutes({ store: chunks, upkeep, rebalance }) };
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
