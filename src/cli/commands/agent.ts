import { defineCommand } from "citty";
import { defaultNodeName, startAgent } from "../../agent/server.ts";
import { ensureDir } from "../../util/fs.ts";
import { commonArgs, serverCaArgs, serverTlsArgs } from "../args.ts";
import { caOption, certificateOption, clusterTokenOption, dataDirOption, listenOption, numberOption, option } from "../config.ts";
import { commandContext } from "../context.ts";
import { CliError } from "../errors.ts";
import { runUntilSignal } from "../run-server.ts";
import { socketAccessOption } from "../socket-access.ts";

/** `photon agent`: a worker that registers and heartbeats with the controller. */
export default defineCommand({
  meta: { name: "agent", description: "Run a worker agent (admin API; default 127.0.0.1:7071)" },
  args: {
    ...commonArgs,
    ...serverTlsArgs,
    ...serverCaArgs,
    listen: { type: "string", description: "admin API address (default 127.0.0.1:7071)", valueHint: "HOST:PORT" },
    controller: { type: "string", description: "controller URL, or several comma-separated (controllers sharing one PostgreSQL: the active one is followed) (default http://127.0.0.1:7070)", valueHint: "URL[,URL…]" },
    name: { type: "string", description: "node name (default: host name)" },
    advertise: { type: "string", description: "address other nodes reach this agent at (default: listen address)" },
    roles: { type: "string", description: "comma-separated roles: storage,compute,nbd (default all)" },
    zone: { type: "string", description: "failure domain of this node (rack, room, site): LightningStor puts a chunk's copies in different zones" },
    "heartbeat-interval": { type: "string", description: "ms between heartbeats (default 5000)" },
    accel: { type: "string", description: "VM acceleration: auto (KVM if a probe guest runs on it), kvm, tcg (default auto)" },
    qemu: { type: "string", description: "QEMU system emulator for VMs (default qemu-system-x86_64)", valueHint: "PATH" },
    "nbd-socket-mode": { type: "string", description: "permissions of the node-local NBD socket (octal, e.g. 0660)", valueHint: "MODE" },
    "nbd-socket-owner": { type: "string", description: "owner of the node-local NBD socket (user name or uid)", valueHint: "USER" },
    "nbd-socket-group": { type: "string", description: "group of the node-local NBD socket, e.g. QEMU's (name or gid)", valueHint: "GROUP" },
  },
  async run({ args }) {
    const { sources, log, logLevel } = commandContext(args, "agent");
    const dataDir = dataDirOption(sources);
    const tls = certificateOption(sources);
    ensureDir(dataDir);
    const token = clusterTokenOption(sources, false);
    const roles = (option(sources, "roles") ?? "storage,compute,nbd").split(",").map((r) => r.trim());
    const unknown = roles.filter((r) => !["storage", "compute", "nbd"].includes(r));
    if (unknown.length > 0) throw new CliError(`--roles: unknown role(s) ${unknown.join(", ")}`);
    const accel = option(sources, "accel") ?? "auto";
    if (accel !== "auto" && accel !== "kvm" && accel !== "tcg") throw new CliError(`--accel: expected auto, kvm or tcg, not "${accel}"`);
    const server = await startAgent(
      {
        dataDir,
        tls,
        ca: caOption(sources),
        caFile: option(sources, "ca"),
        listen: listenOption(sources, "listen", "127.0.0.1:7071"),
        token,
        controllerUrl: option(sources, "controller") ?? "http://127.0.0.1:7070",
        name: option(sources, "name") ?? defaultNodeName(),
        advertise: option(sources, "advertise"),
        roles,
        zone: zoneOption(option(sources, "zone")),
        heartbeatMs: numberOption(sources, "heartbeat-interval", 5000),
        logLevel,
        accel,
        qemuBinary: option(sources, "qemu") ?? "qemu-system-x86_64",
        nbdSocketAccess: socketAccessOption(sources, "nbd-socket"),
      },
      log,
    );
    await runUntilSignal(server, log, { certificate: tls, token });
  },
});

/** `--zone`, a DNS label like node names; undefined when not given. */
function zoneOption(zone: string | undefined): string | undefined {
  if (zone !== undefined && !/^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/.test(zone)) throw new CliError(`--zone: "${zone}" must be a DNS label (a-z, 0-9, -)`);
  return zone;
}
