import { Hono } from "hono";
import type { TokenLike } from "../util/token.ts";
import { createAdminApp } from "../http/admin-app.ts";
import { createHttpMetrics, registerDataDirMetrics } from "../http/metrics.ts";
import { serveApp, type ListenAddress, type RunningServer } from "../http/serve.ts";
import type { ServerCertificate } from "../http/server-certificate.ts";
import type { Logger, LogLevel } from "../util/log.ts";
import { startNbdServer, type NbdListenOptions, type NbdSecurity, type NbdServer } from "./nbd/server.ts";
import type { UnixSocketAccess } from "./nbd/unix-socket.ts";
import type { WorkerRole } from "../http/worker-role.ts";
import { volumeRoutes } from "./volumes/routes.ts";
import { VolumeStore } from "./volumes/store.ts";
import { volumeFormats } from "./backend/open-volume.ts";
import { join } from "node:path";
import type { Registry } from "prom-client";
import { registerVolumeMetrics } from "./metrics.ts";

/** The nbd-export's configuration, parsed once by the CLI. */
export interface NbdExportConfig {
  dataDir: string;
  /** NBD over TCP; undefined disables it. */
  listen?: ListenAddress;
  /** NBD over a unix socket; undefined disables it. */
  socket?: string;
  /** Mode and owner of the unix socket. */
  socketAccess?: UnixSocketAccess;
  /** TLS and per-identity access (loaded by nbd/security.ts). */
  security: NbdSecurity;
  admin: ListenAddress;
  token: TokenLike;
  logLevel: LogLevel;
  /** The admin API serves HTTPS with this certificate (reloadable). */
  tls?: ServerCertificate;
  /** The CA (`--ca`) an `nbds://` source of a materialize is verified against, when its URI names none. */
  caFile?: string;
}

/** Starts `photon nbd-export`: the volume store, its NBD listeners and its admin API. */
export function startNbdExport(config: NbdExportConfig, log: Logger): RunningServer & { setNbdSecurity(next: NbdSecurity): void } {
  const metrics = createHttpMetrics();
  registerDataDirMetrics(metrics.registry, config.dataDir);
  const volumes = openVolumeService(config.dataDir, log, config.logLevel, metrics.registry, config.caFile);
  volumes.serve({ tcp: config.listen, unixPath: config.socket, unixAccess: config.socketAccess }, config.security);
  const app = createAdminApp({ token: config.token, log, metrics });
  app.route("/v1/volumes", volumes.routes);
  // Image uploads stream up to the largest volume.
  const admin = serveApp(app, config.admin, log, { tls: config.tls });
  return {
    address: admin.address,
    setNbdSecurity: (next) => volumes.setNbdSecurity(next),
    async stop() {
      await admin.stop();
      await volumes.stop();
    },
  };
}

/** A volume store with its `/v1/volumes` routes; `serve` exports it over NBD. */
export interface VolumeService {
  routes: Hono;
  /** Starts the NBD listeners; the routes report their URIs from then on. */
  serve(listeners: NbdListeners, security?: NbdSecurity): void;
  /** New NBD TLS settings for new connections (see NbdServer.setSecurity). */
  setNbdSecurity(next: NbdSecurity): void;
  stop(): Promise<void>;
}

/** Where a volume service's NBD server listens; either may be left out. */
export type NbdListeners = NbdListenOptions;

/**
 * A volume store in `dataDir` (`volumes/` and its SQLite file) and the
 * `/v1/volumes` routes that manage it — the nbd-export's, and an agent's
 * node-local one. Opening it starts nothing; `serve` starts the NBD server.
 * Its figures go on `metrics` (see metrics.ts); `caFile` verifies `nbds://`
 * sources that name no credentials.
 */
export function openVolumeService(dataDir: string, log: Logger, logLevel: LogLevel, metrics: Registry, caFile?: string): VolumeService {
  const store = new VolumeStore(dataDir, log, volumeFormats([join(dataDir, "volumes")]));
  let nbd: NbdServer | undefined;
  registerVolumeMetrics(metrics, store, () => nbd);
  const routes = volumeRoutes(store, {
    get tcp() {
      return nbd?.tcpAddress;
    },
    get unixPath() {
      return nbd?.unixPath;
    },
    get tlsRequired() {
      return nbd?.tlsMode() === "require";
    },
    connections: (name) => nbd?.connections(name) ?? 0,
    disconnect: async (name) => nbd?.disconnect(name),
  }, caFile === undefined ? undefined : { caFile });
  return {
    routes,
    serve(listeners, security) {
      nbd = startNbdServer(store, listeners, log.child({ kind: "nbd" }), logLevel, security);
    },
    setNbdSecurity(next) {
      nbd?.setSecurity(next);
    },
    async stop() {
      await nbd?.stop();
      store.close();
    },
  };
}

/**
 * CoronaFS's role on a worker ("nbd"): node-local volumes under
 * `<dataDir>/local-volumes`, materialized there from another export and
 * exported on the unix socket `<dataDir>/local-nbd.sock` only, with the
 * mode and owner `socketAccess` gives it (so only QEMU's user can open it).
 */
export function localVolumesRole(options: {
  dataDir: string;
  log: Logger;
  logLevel: LogLevel;
  metrics: Registry;
  socketAccess?: UnixSocketAccess;
  /** The agent's `--ca`: verifies `nbds://` sources (the central export with TLS) that name no credentials. */
  caFile?: string;
}): WorkerRole {
  const service = openVolumeService(join(options.dataDir, "local-volumes"), options.log, options.logLevel, options.metrics, options.caFile);
  let stopped: Promise<void> = Promise.resolve();
  return {
    name: "nbd",
    routes: new Hono().route("/v1/volumes", service.routes),
    async start(signal) {
      service.serve({ unixPath: join(options.dataDir, "local-nbd.sock"), unixAccess: options.socketAccess });
      stopped = new Promise((resolve) => signal.addEventListener("abort", () => resolve(service.stop()), { once: true }));
    },
    stopped: () => stopped,
  };
}
