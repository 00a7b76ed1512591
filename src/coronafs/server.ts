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
  const store = new VolumeStore(config.dataDir, log, volumeFormats([join(config.dataDir, "volumes")]));
  const nbd = startNbdServer(store, { tcp: config.listen, unixPath: config.socket }, log.child({ kind: "nbd" }), config.logLevel);
  const app = createAdminApp({ token: config.token, log, metrics: createHttpMetrics() });
  app.route(
    "/v1/volumes",
    volumeRoutes(store, {
      tcp: nbd.tcpAddress,
      unixPath: nbd.unixPath,
      connections: (name) => nbd.connections(name),
      disconnect: (name) => nbd.disconnect(name),
    }),
  );
  const admin = serveApp(app, config.admin, log);
  return {
    address: admin.address,
    async stop() {
      await admin.stop();
      await nbd.stop();
      store.close();
    },
  };
}
