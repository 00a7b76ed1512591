import { hostname } from "node:os";
import { join } from "node:path";
import { createAdminApp } from "../http/admin-app.ts";
import { createHttpMetrics } from "../http/metrics.ts";
import { serveApp, type ListenAddress, type RunningServer } from "../http/serve.ts";
import { ControllerClient } from "../controller/client.ts";
import { openVolumeService } from "../coronafs/server.ts";
import { chunkRoutes } from "../lightningstor/chunks/chunk-routes.ts";
import { LocalChunkStore } from "../lightningstor/chunks/local-chunk-store.ts";
import type { Logger, LogLevel } from "../util/log.ts";
import { version } from "../version.ts";
import { measureCapacity } from "./capacity.ts";
import { runRegistration } from "./registration.ts";

/** The agent's configuration, parsed once by the CLI. */
export interface AgentConfig {
  dataDir: string;
  listen: ListenAddress;
  token: string;
  controllerUrl: string;
  name: string;
  /** host:port other nodes use to reach this agent; defaults to the listen address. */
  advertise?: string;
  roles: string[];
  heartbeatMs: number;
  logLevel: LogLevel;
}

/**
 * Starts a worker agent: its admin API — with the roles it has, the chunk API
 * that makes it a LightningStor storage node ("storage") and node-local
 * CoronaFS volumes on a unix socket ("nbd") — and registration + heartbeats
 * with the controller.
 */
export function startAgent(config: AgentConfig, log: Logger): RunningServer {
  const metrics = createHttpMetrics();
  const app = createAdminApp({ token: config.token, log, metrics });
  const stops: (() => Promise<void> | void)[] = [];
  if (config.roles.includes("storage")) {
    const chunks = new LocalChunkStore(join(config.dataDir, "chunks"));
    const interrupted = chunks.sweep((name) => !name.endsWith(".tmp"));
    if (interrupted > 0) log.info("removed chunks of interrupted writes", { chunks: interrupted });
    app.route("/v1/chunks", chunkRoutes(chunks));
    const scrubber = scheduleScrubs(chunks, log);
    stops.push(() => clearTimeout(scrubber.timer));
  }
  if (config.roles.includes("nbd")) {
    // Node-local CoronaFS: volumes materialized here, exported on a unix socket only.
    const volumes = openVolumeService(join(config.dataDir, "local-volumes"), { unixPath: join(config.dataDir, "local-nbd.sock") }, log, config.logLevel);
    app.route("/v1/volumes", volumes.routes);
    stops.push(() => volumes.stop());
  }
  const server = serveApp(app, config.listen, log);
  const advertise = config.advertise ?? `${config.listen.hostname}:${server.address.port}`;
  const report = () => ({
    name: config.name,
    advertise,
    roles: config.roles,
    capacity: measureCapacity(config.dataDir),
    version,
  });
  app.get("/v1/node", (c) => c.json(report()));

  const abort = new AbortController();
  const loop = runRegistration({
    client: new ControllerClient(config.controllerUrl, config.token),
    report,
    heartbeatMs: config.heartbeatMs,
    maxBackoffMs: Math.max(config.heartbeatMs * 8, 5000),
    log,
    signal: abort.signal,
  });
  return {
    address: server.address,
    async stop() {
      abort.abort();
      await loop;
      await server.stop();
      for (const stop of stops) await stop();
    },
  };
}

/** First scrub of the chunk copies this long after start, then one a day. */
const FIRST_SCRUB_MS = 10 * 60 * 1000;
const SCRUB_EVERY_MS = 24 * 60 * 60 * 1000;
/** Pause after each chunk a scrub reads (at most ~16 MiB), leaving the disk to requests. */
const SCRUB_PAUSE_MS = 20;

/** Reads every chunk copy back now and then; a damaged one is deleted, and the gateway restores it from another copy. */
function scheduleScrubs(chunks: LocalChunkStore, log: Logger): { timer?: Timer } {
  const scrubber: { timer?: Timer } = {};
  const run = async () => {
    try {
      const damaged = await chunks.scrub(SCRUB_PAUSE_MS);
      if (damaged.length > 0) log.warn("removed chunk copies that failed their checksum; the gateway restores them", { chunks: damaged });
    } catch (err) {
      log.error("chunk scrub failed", { err });
    }
    scrubber.timer = setTimeout(() => void run(), SCRUB_EVERY_MS).unref();
  };
  scrubber.timer = setTimeout(() => void run(), FIRST_SCRUB_MS).unref();
  return scrubber;
}

/** The default node name: the host name, lower-cased to a DNS label. */
export function defaultNodeName(): string {
  return hostname().toLowerCase().split(".")[0]!.replace(/[^a-z0-9-]/g, "-") || "node";
}
