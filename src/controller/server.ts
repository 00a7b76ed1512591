import { join } from "node:path";
import type { TokenLike } from "../util/token.ts";
import { count, eq, sum } from "drizzle-orm";
import { Gauge } from "prom-client";
import { redactUrl, type MetadataEngine } from "../db/engine.ts";
import { openStoreDb } from "../db/open-store-db.ts";
import type { StoreDb, StoreSchemas } from "../db/store-db.ts";
import { createAdminApp } from "../http/admin-app.ts";
import { createHttpMetrics } from "../http/metrics.ts";
import type { TrustedCa } from "../http/client-tls.ts";
import { serveApp, type ListenAddress, type RunningServer } from "../http/serve.ts";
import type { ServerCertificate } from "../http/server-certificate.ts";
import type { Logger } from "../util/log.ts";
import { plasmaProblem } from "../plasmavmc/errors.ts";
import { plasmaVmcRoutes } from "../plasmavmc/controller-routes.ts";
import type { ArtifactConfig } from "../plasmavmc/images/artifact-store.ts";
import { controllerMigrations } from "./migrations/index.ts";
import { controllerPgMigrations } from "./migrations-pg/index.ts";
import { ControllerLease } from "./controller-lease.ts";
import { runLivenessSweep } from "./liveness-sweep.ts";
import { nodeRoutes } from "./node-routes.ts";
import { NodeStore } from "./node-store.ts";
import * as schema from "./schema.ts";
import * as pgSchema from "./schema-pg.ts";
import { collectStatus } from "./status.ts";

/** The controller's SQLite metadata file in its data dir. */
export const controllerMetadataFile = "controller.db";

/** The controller's schema and migrations for each engine. */
export const controllerSchemas: StoreSchemas<typeof schema> = { schema, migrations: controllerMigrations, pgSchema, pgMigrations: controllerPgMigrations };

/** The controller's configuration, parsed once by the CLI. */
export interface ControllerConfig {
  dataDir: string;
  /** Where nodes, images, volumes and VMs are kept: SQLite in the data dir, or PostgreSQL. */
  metadata: MetadataEngine;
  listen: ListenAddress;
  token: TokenLike;
  /** A node is marked down after this long without a heartbeat. */
  nodeTimeoutMs: number;
  /** The central CoronaFS export's admin API, where volumes and image bases live. */
  coronafsUrl?: string;
  /** The s3-gateway's admin API, for the replication health in the status. */
  s3AdminUrl?: string;
  /** Where image artifacts are stored. */
  artifacts?: ArtifactConfig;
  /** vCPUs per host CPU the scheduler hands out. */
  cpuRatio: number;
  /** The admin API serves HTTPS with this certificate (reloadable). */
  tls?: ServerCertificate;
  /** The CA the https:// servers this mode calls are verified against. */
  ca?: TrustedCa;
}

/**
 * Starts the controller: the control API over the metadata DB, plus the
 * liveness sweep. On PostgreSQL several controllers may share the database:
 * the one holding the controller lease serves and sweeps, the others are
 * standbys (503 on `/v1/*`) until it dies (controller-lease.ts).
 */
export async function startController(config: ControllerConfig, log: Logger): Promise<RunningServer> {
  const meta = await openStoreDb(config.metadata, join(config.dataDir, controllerMetadataFile), controllerSchemas);
  const store = new NodeStore(meta);
  if (config.metadata.kind === "postgres") log.info("metadata on PostgreSQL", { url: redactUrl(config.metadata.url) });
  const lease = new ControllerLease(meta, log);
  await lease.renew();
  const metrics = createHttpMetrics();
  const activeGauge = new Gauge({
    name: "photon_controller_active",
    help: "1 while this controller is the active one, 0 while it is a standby (PostgreSQL: the holder of the controller lease).",
    registers: [metrics.registry],
  });
  const nodeGauge = new Gauge({
    name: "photon_nodes",
    help: "Registered nodes by state.",
    labelNames: ["state"] as const,
    registers: [metrics.registry],
  });
  const app = createAdminApp({
    token: config.token,
    log,
    metrics,
    translate: plasmaProblem,
    quietRoutes: ["/healthz", "/metrics", "/v1/nodes/:node/heartbeat"],
    standby: () => !lease.isActive(),
    beforeMetrics: async () => {
      activeGauge.set(lease.isActive() ? 1 : 0);
      for (const [state, n] of Object.entries(await store.countByState())) nodeGauge.set({ state }, n);
    },
  });
  app.route("/v1/nodes", nodeRoutes(store));
  app.get("/v1/status", async (c) =>
    c.json(
      await collectStatus({
        // Behind the TLS front the app sees plain http: the scheme is the listener's.
        selfUrl: new URL(c.req.url).origin.replace(/^http:/, config.tls ? "https:" : "http:"),
        token: config.token,
        nodes: () => store.list(),
        coronafsUrl: config.coronafsUrl,
        s3Endpoint: config.artifacts?.endpoint,
        s3AdminUrl: config.s3AdminUrl,
        ca: config.ca,
        counts: () => plasmaCounts(meta),
      }),
    ),
  );
  app.route(
    "/",
    plasmaVmcRoutes({
      store: meta,
      token: config.token,
      coronafsUrl: config.coronafsUrl,
      artifacts: config.artifacts,
      nodes: () => store.list(),
      cpuRatio: config.cpuRatio,
      log,
      ca: config.ca,
    }),
  );

  const duties = new AbortController();
  const running = [lease.run(duties.signal), runLivenessSweep({ store, lease, nodeTimeoutMs: config.nodeTimeoutMs, log }, duties.signal)];

  const server = serveApp(app, config.listen, log, { tls: config.tls });
  return {
    address: server.address,
    async stop() {
      // Requests first, then the lease (given up for a standby to take at once), then the database.
      await server.stop();
      duties.abort();
      await Promise.all(running);
      await meta.close();
    },
  };
}

/** PlasmaVMC's figures for the status: images (artifact bytes) and VMs (running ones). */
async function plasmaCounts(meta: StoreDb<typeof schema>) {
  const { db, tables } = meta;
  const { images, vms } = tables;
  const [image] = await db.select({ count: count(), bytes: sum(images.artifactSize).mapWith(Number) }).from(images);
  const [vm] = await db.select({ count: count() }).from(vms);
  const [running] = await db.select({ count: count() }).from(vms).where(eq(vms.state, "running"));
  return { images: { count: image?.count ?? 0, bytes: image?.bytes ?? 0 }, vms: { count: vm?.count ?? 0, running: running?.count ?? 0 } };
}
