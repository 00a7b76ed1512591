import { join } from "node:path";
import { Hono } from "hono";
import { Counter, type Registry } from "prom-client";
import type { VolumeClient } from "../../coronafs/client.ts";
import { parseNbdUri } from "../../coronafs/nbd/uri.ts";
import { ApiError } from "../../http/admin-client.ts";
import type { WorkerRole } from "../../http/worker-role.ts";
import type { Logger } from "../../util/log.ts";
import type { Accel } from "../qemu/command-line.ts";
import { VmHost, type LocalVolumes } from "./vm-host.ts";
import { vmRoutes } from "./vm-routes.ts";

/**
 * Seconds QEMU holds a guest's disk I/O while the node-local export is away
 * (an agent restart): long enough for a restart under load, short enough that
 * a node whose agent never comes back fails I/O rather than hanging forever.
 */
const RECONNECT_DELAY_SECONDS = 120;

/** What the VM host role needs from the agent. */
export interface VmHostRoleOptions {
  dataDir: string;
  qemuBinary: string;
  accel: "auto" | Accel;
  log: Logger;
  metrics: Registry;
  /** The node-local volume API (the agent's own `/v1/volumes`, role "nbd"); called once the agent serves. */
  localVolumes: () => VolumeClient;
}

/**
 * PlasmaVMC's role on a worker ("compute"): VMs under QEMU whose disks are
 * this node's local volumes, attached through its unix-socket NBD export;
 * `/v1/vms` on the agent's API. The VMs outlive the agent: stopping the role
 * lets go of them, starting it re-adopts them from `<dataDir>/vms`.
 */
export function vmHostRole(options: VmHostRoleOptions): WorkerRole {
  const log = options.log.child({ role: "compute" });
  const crashes = new Counter({ name: "photon_vm_crashes_total", help: "VMs whose QEMU exited without a stop request.", registers: [options.metrics] });
  const host = new VmHost({
    root: join(options.dataDir, "vms"),
    qemuBinary: options.qemuBinary,
    accel: options.accel,
    volumes: localVolumes(options.localVolumes),
    log,
    reconnectDelaySeconds: RECONNECT_DELAY_SECONDS,
    onCrash(vm) {
      crashes.inc();
      log.error("VM crashed", { vm: vm.name, pid: vm.pid, reason: vm.record.exit?.reason, consoleTail: vm.dir.consoleTail(1024) });
    },
  });
  const abort = new AbortController();
  let stopped: Promise<void> = Promise.resolve();
  return {
    name: "compute",
    routes: new Hono().route("/v1/vms", vmRoutes(host, abort.signal)),
    async start(signal) {
      await host.adoptAll();
      stopped = new Promise((resolve) =>
        signal.addEventListener(
          "abort",
          () => {
            abort.abort();
            host.detachAll();
            resolve();
          },
          { once: true },
        ),
      );
    },
    stopped: () => stopped,
  };
}

/** The node-local store through its admin API: a volume's unix-socket export, and its connections. */
function localVolumes(client: () => VolumeClient): LocalVolumes {
  const find = async (volume: string) => {
    try {
      return await client().get(volume);
    } catch (err) {
      if (err instanceof ApiError && err.status === 404) return undefined;
      throw err;
    }
  };
  return {
    async locate(volume) {
      const info = await find(volume);
      if (!info?.uris.unix) return undefined;
      const target = parseNbdUri(info.uris.unix);
      return "socket" in target ? target : undefined;
    },
    connections: async (volume) => (await find(volume))?.connections ?? 0,
  };
}
