import { hostname } from "node:os";
import type { TokenLike } from "../util/token.ts";
import { createAdminApp } from "../http/admin-app.ts";
import { createHttpMetrics, registerDataDirMetrics } from "../http/metrics.ts";
import type { TrustedCa } from "../http/client-tls.ts";
import { serveApp, type ListenAddress, type RunningServer } from "../http/serve.ts";
import type { ServerCertificate } from "../http/server-certificate.ts";
import { ControllerClient } from "../controller/client.ts";
import { VolumeClient } from "../coronafs/client.ts";
import { localVolumesRole } from "../coronafs/server.ts";
import type { UnixSocketAccess } from "../coronafs/nbd/unix-socket.ts";
import type { WorkerRole } from "../http/worker-role.ts";
import { storageNodeRole } from "../lightningstor/storage-node.ts";
import { vmHostRole, type VmHostRoleOptions } from "../plasmavmc/vm-host/role.ts";
import type { Registry } from "prom-client";
import type { Logger, LogLevel } from "../util/log.ts";
import { version } from "../version.ts";
import { measureCapacity } from "./capacity.ts";
import { runRegistration } from "./registration.ts";

/** The agent's configuration, parsed once by the CLI. */
export interface AgentConfig {
  dataDir: string;
  listen: ListenAddress;
  token: TokenLike;
  controllerUrl: string;
  name: string;
  /** host:port other nodes use to reach this agent; defaults to the listen address. */
  advertise?: string;
  roles: string[];
  /** Failure domain reported to the controller (LightningStor spreads copies across zones). */
  zone?: string;
  heartbeatMs: number;
  logLevel: LogLevel;
  /** How VMs run: `auto` uses KVM only when a probe guest runs on it. */
  accel: VmHostRoleOptions["accel"];
  /** The QEMU system emulator for VMs. */
  qemuBinary: string;
  /** The admin API serves HTTPS with this certificate (reloadable). */
  tls?: ServerCertificate;
  /** The CA the https:// servers this mode calls are verified against. */
  ca?: TrustedCa;
  /** The file `ca` was read from: also what `nbds://` sources of node-local volumes are verified against. */
  caFile?: string;
  /** Mode and owner of the node-local NBD socket (so only QEMU's user can open it). */
  nbdSocketAccess?: UnixSocketAccess;
}

/** What a role may use of the agent it runs in. */
interface AgentContext {
  metrics: Registry;
  /** The agent's own admin API (known once it listens), for roles that use another role's API. */
  selfUrl(): string;
}

/**
 * Starts a worker agent: its admin API with the routes of the roles it has —
 * a LightningStor storage node ("storage"), node-local CoronaFS volumes on a
 * unix socket ("nbd"), VMs under QEMU ("compute") — and registration +
 * heartbeats with the controller.
 */
export async function startAgent(config: AgentConfig, log: Logger): Promise<RunningServer> {
  const metrics = createHttpMetrics();
  const app = createAdminApp({ token: config.token, log, metrics });
  registerDataDirMetrics(metrics.registry, config.dataDir);
  let selfUrl: string | undefined;
  const context: AgentContext = {
    metrics: metrics.registry,
    selfUrl: () => {
      if (selfUrl === undefined) throw new Error("the agent does not listen yet");
      return selfUrl;
    },
  };
  const roles = config.roles.flatMap((name) => {
    const role = workerRoles[name]?.(config, log, context);
    return role ? [role] : [];
  });
  const abort = new AbortController();
  for (const role of roles) {
    app.route("/", role.routes);
    await role.start(abort.signal);
  }
  const server = serveApp(app, config.listen, log, { tls: config.tls });
  const scheme = config.tls ? "https" : "http";
  selfUrl = `${scheme}://${localHost(config.listen.hostname)}:${server.address.port}`;
  // With TLS the scheme goes with the address: the controller and the gateway call it as given.
  const advertised = config.advertise ?? `${config.listen.hostname}:${server.address.port}`;
  const advertise = config.tls && !/^https?:\/\//.test(advertised) ? `https://${advertised}` : advertised;
  const report = () => ({
    name: config.name,
    advertise,
    roles: config.roles,
    ...(config.zone === undefined ? {} : { zone: config.zone }),
    capacity: measureCapacity(config.dataDir),
    version,
  });
  app.get("/v1/node", (c) => c.json(report()));

  const loop = runRegistration({
    client: new ControllerClient(config.controllerUrl, config.token, config.ca),
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
      await Promise.all(roles.map((role) => role.stopped()));
    },
  };
}

/** The roles an agent can run, by their `--roles` name. */
const workerRoles: Record<string, (config: AgentConfig, log: Logger, agent: AgentContext) => WorkerRole> = {
  storage: (config, log) => storageNodeRole({ dataDir: config.dataDir, token: config.token, ca: config.ca, log }),
  nbd: (config, log, agent) =>
    localVolumesRole({ dataDir: config.dataDir, log, logLevel: config.logLevel, metrics: agent.metrics, socketAccess: config.nbdSocketAccess, caFile: config.caFile }),
  compute: (config, log, agent) =>
    vmHostRole({
      dataDir: config.dataDir,
      qemuBinary: config.qemuBinary,
      accel: config.accel,
      log,
      metrics: agent.metrics,
      localVolumes: () => new VolumeClient(agent.selfUrl(), config.token, config.ca),
    }),
};

/** An address this host reaches a listener on: the wildcard addresses are not. */
function localHost(hostname: string): string {
  if (hostname === "0.0.0.0" || hostname === "") return "127.0.0.1";
  if (hostname === "::") return "[::1]";
  return hostname.includes(":") ? `[${hostname}]` : hostname;
}

/** The default node name: the host name, lower-cased to a DNS label. */
export function defaultNodeName(): string {
  return hostname().toLowerCase().split(".")[0]!.replace(/[^a-z0-9-]/g, "-") || "node";
}
