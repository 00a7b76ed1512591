import type { Hono } from "hono";
import { createAdminApp } from "../http/admin-app.ts";
import { createHttpMetrics } from "../http/metrics.ts";
import { serveApp, type ListenAddress, type RunningServer } from "../http/serve.ts";
import type { Logger, LogLevel } from "../util/log.ts";
import { startNbdServer } from "./nbd/server.ts";
import { volumeRoutes } from "./volume-routes.ts";
import { VolumeStore } from "./volume-store.ts";
import { volumeFormats } from "./formats.ts";
import { join } from "node:path";

/** The nbd-export's configuration, parsed once by the CLI. */
export interface NbdExportConfig {
  dataDir: string;
  /** NBD over TCP; undefined disables it. */
  listen?: ListenAddress;
  /** NBD over a unix socket; undefined disables it. */
  socket?: string;
  admin: ListenAddress;
  token: string;
  logLevel: LogLevel;
}

/** Starts `photon nbd-export`: the volume store, its NBD listeners and its admin API. */
export function startNbdExport(config: NbdExportConfig, log: Logger): RunningServer {
  const volumes = openVolumeService(config.dataDir, { tcp: config.listen, unixPath: config.socket }, log, config.logLevel);
  const app = createAdminApp({ token: config.token, log, metrics: createHttpMetrics() });
  app.route("/v1/volumes", volumes.routes);
  const admin = serveApp(app, config.admin, log);
  return {
    address: admin.address,
    async stop() {
      await admin.stop();
      await volumes.stop();
    },
  };
}

/**
 * A volume store in `dataDir` (`volumes/` and its SQLite file), exported over
 * NBD on `listeners`, with the `/v1/volumes` routes that manage it — the
 * nbd-export's, and an agent's node-local one.
 */
export function openVolumeService(dataDir: string, listeners: { tcp?: ListenAddress; unixPath?: string }, log: Logger, logLevel: LogLevel): { routes: Hono; stop(): Promise<void> } {
  const store = new VolumeStore(dataDir, log, volumeFormats([join(dataDir, "volumes")]));
  const nbd = startNbdServer(store, listeners, log.child({ kind: "nbd" }), logLevel);
  const routes = volumeRoutes(store, {
    tcp: nbd.tcpAddress,
    unixPath: nbd.unixPath,
    connections: (name) => nbd.connections(name),
    disconnect: (name) => nbd.disconnect(name),
  });
  return {
    routes,
    async stop() {
      await nbd.stop();
      store.close();
    },
  };
}
