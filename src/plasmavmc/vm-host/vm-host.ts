import { statSync } from "node:fs";
import { totalmem } from "node:os";
import type { Logger } from "../../util/log.ts";
import { qemuArgv, type Accel, type NbdDisk } from "../qemu/command-line.ts";
import { probeAccel } from "../qemu/kvm-probe.ts";
import { launchDaemonized, QemuLaunchError, signalQemu } from "../qemu/process.ts";
import { VmError } from "./errors.ts";
import { HostedVm } from "./hosted-vm.ts";
import { listRuntimeDirs, VmRuntimeDir, type VmRecord } from "./runtime-dir.ts";
import type { VmRequest } from "./vm-request.ts";

/** Where a VM's disks come from: this node's local volume store and its NBD export. */
export interface LocalVolumes {
  /** Where QEMU reaches a volume; undefined when this node does not hold it. */
  locate(volume: string): Promise<{ socket: string; exportName: string } | undefined>;
  /** Open NBD connections to a volume. */
  connections(volume: string): Promise<number>;
}

/** The VM host's settings. */
export interface VmHostOptions {
  /** `<dataDir>/vms`: one runtime directory per VM. */
  root: string;
  qemuBinary: string;
  /** The agent's `--accel`: `auto` runs the probe once, on the first VM that needs it. */
  accel: "auto" | Accel;
  volumes: LocalVolumes;
  log: Logger;
  /** Seconds QEMU holds guest I/O while the node-local export restarts. */
  reconnectDelaySeconds: number;
  onCrash(vm: HostedVm): void;
}

/** How long a stop waits for the export to notice QEMU's connections closed. */
const DISCONNECT_WAIT_MS = 5000;

/**
 * The VMs of one worker: starts QEMU for them over the node-local export,
 * re-adopts the ones that outlived the previous agent, stops and deletes them.
 */
export class VmHost {
  private readonly vms = new Map<string, HostedVm>();
  /** Names being created right now (reserved before the first await). */
  private readonly creating = new Set<string>();
  private probe: Promise<Accel> | undefined;
  private readonly abort = new AbortController();

  constructor(private readonly options: VmHostOptions) {}

  /** Re-adopts every VM directory under the root (see {@link HostedVm.adopt}). */
  async adoptAll(): Promise<void> {
    for (const name of listRuntimeDirs(this.options.root)) {
      const dir = new VmRuntimeDir(this.options.root, name);
      const record = dir.read();
      if (!record) {
        this.options.log.warn("skipping a VM directory without a readable spec.json", { vm: name, dir: dir.path });
        continue;
      }
      const vm = this.hosted(dir, record);
      await vm.adopt();
      this.vms.set(name, vm);
      this.options.log.info("VM adopted", { vm: name, state: vm.state, pid: vm.pid });
    }
  }

  list(): HostedVm[] {
    return [...this.vms.values()].sort((a, b) => a.name.localeCompare(b.name));
  }

  get(name: string): HostedVm {
    const vm = this.vms.get(name);
    if (!vm) throw new VmError("not-found", `VM "${name}" does not exist on this node`);
    return vm;
  }

  /** Creates a VM and starts it; resolves once QMP shows its disks attached. */
  async create(request: VmRequest, receivedAt: number): Promise<HostedVm> {
    const dir = new VmRuntimeDir(this.options.root, request.name);
    if (this.vms.has(request.name) || this.creating.has(request.name) || dir.exists()) {
      throw new VmError("conflict", `VM "${request.name}" already exists on this node`);
    }
    this.creating.add(request.name);
    try {
      checkHostFits(request);
      const disks = await this.resolveDisks(request);
      const accel = await this.chooseAccel(request.accel);
      const record: VmRecord = { request, accel, intent: "run", createdAt: new Date().toISOString() };
      dir.create();
      dir.write(record);
      const vm = this.hosted(dir, record);
      try {
        await this.run(vm, disks, receivedAt);
      } catch (err) {
        dir.remove();
        throw err;
      }
      this.vms.set(request.name, vm);
      return vm;
    } finally {
      this.creating.delete(request.name);
    }
  }

  /** Starts a stopped or crashed VM again with its recorded request. */
  async start(name: string, receivedAt: number): Promise<HostedVm> {
    const vm = this.get(name);
    if (vm.live || this.creating.has(name)) throw new VmError("conflict", `VM "${name}" is ${vm.state}`);
    this.creating.add(name);
    const previous = vm.record;
    try {
      const disks = await this.resolveDisks(vm.record.request);
      const accel = await this.chooseAccel(vm.record.request.accel);
      vm.record = { request: vm.record.request, accel, intent: "run", createdAt: vm.record.createdAt };
      vm.dir.write(vm.record);
      await this.run(vm, disks, receivedAt);
      return vm;
    } catch (err) {
      vm.record = previous;
      vm.dir.write(previous);
      throw err;
    } finally {
      this.creating.delete(name);
    }
  }

  /** Stops a VM (see {@link HostedVm.stop}) and waits until the export has let go of its disks. */
  async stop(name: string, options: { force: boolean; timeoutMs: number }): Promise<HostedVm> {
    const vm = this.get(name);
    await vm.stop(options);
    await this.awaitDisconnected(vm);
    return vm;
  }

  /** Stops a VM at once if it runs, and removes its runtime directory. */
  async delete(name: string): Promise<void> {
    const vm = this.get(name);
    if (this.creating.has(name)) throw new VmError("conflict", `VM "${name}" is being started`);
    await this.stop(name, { force: true, timeoutMs: 0 });
    vm.dir.remove();
    this.vms.delete(name);
    this.options.log.info("VM deleted", { vm: name });
  }

  /** Lets go of every VM's monitor; the QEMU processes keep running (the agent stops, not the VMs). */
  detachAll(): void {
    this.abort.abort();
    for (const vm of this.vms.values()) vm.detach();
  }

  private hosted(dir: VmRuntimeDir, record: VmRecord): HostedVm {
    return new HostedVm(dir, record, { log: this.options.log, signal: this.abort.signal, onCrash: (vm) => this.options.onCrash(vm) });
  }

  /** Launches QEMU for `vm` and attaches its disks; on failure no process is left behind. */
  private async run(vm: HostedVm, disks: NbdDisk[], receivedAt: number): Promise<void> {
    const { request } = vm.record;
    const argv = qemuArgv({
      binary: this.options.qemuBinary,
      name: request.name,
      machine: request.machine,
      accel: vm.record.accel,
      cpus: request.cpus,
      memoryMiB: request.memoryMiB,
      qmpSocket: vm.dir.qmpSocket,
      consoleLog: vm.dir.consoleLog,
      pidFile: vm.dir.pidFile,
      daemonize: true,
      kernel: request.kernel,
      initrd: request.initrd,
      append: request.append,
      disks,
      network: request.network,
      reconnectDelaySeconds: this.options.reconnectDelaySeconds,
    });
    vm.dir.clearRuntime();
    const startedAt = new Date().toISOString();
    let pid: number;
    try {
      pid = await launchDaemonized(argv, vm.dir.pidFile);
    } catch (err) {
      if (err instanceof QemuLaunchError) throw new VmError("launch-failed", err.message);
      throw err;
    }
    vm.beginRun(pid);
    try {
      await vm.attach(disks.length);
    } catch (err) {
      vm.abandon();
      signalQemu(pid, vm.dir.qmpSocket, "SIGKILL");
      throw new VmError("launch-failed", `QEMU started (pid ${pid}) but its monitor failed: ${(err as Error).message}`);
    }
    const attachedAt = Date.now();
    vm.record = { ...vm.record, startedAt, attachedAt: new Date(attachedAt).toISOString(), attachMs: Math.round(attachedAt - receivedAt) };
    vm.dir.write(vm.record);
    this.options.log.info("VM started", { vm: request.name, pid, accel: vm.record.accel, attachMs: vm.record.attachMs });
  }

  /** Each disk's export, refusing volumes this node does not hold or that a running VM writes to. */
  private async resolveDisks(request: VmRequest): Promise<NbdDisk[]> {
    const writers = new Map<string, string>();
    for (const vm of this.vms.values()) {
      if (!vm.live || vm.name === request.name) continue;
      for (const disk of vm.record.request.disks) if (!disk.readOnly) writers.set(disk.volume, vm.name);
    }
    const disks: NbdDisk[] = [];
    for (const [i, disk] of request.disks.entries()) {
      const where = await this.options.volumes.locate(disk.volume);
      if (!where) throw new VmError("invalid", `volume "${disk.volume}" is not in this node's local store`, `disks.${i}.volume`);
      const writer = writers.get(disk.volume);
      if (writer !== undefined && !disk.readOnly) throw new VmError("conflict", `volume "${disk.volume}" is attached writable to VM "${writer}"`);
      disks.push({ ...where, readOnly: disk.readOnly ?? false });
    }
    return disks;
  }

  /** The request's accelerator, else the agent's; `auto` is the probe's answer, found once per agent. */
  private async chooseAccel(requested: VmRequest["accel"]): Promise<Accel> {
    const accel = requested && requested !== "auto" ? requested : this.options.accel;
    if (accel !== "auto") return accel;
    this.probe ??= probeAccel({ qemuBinary: this.options.qemuBinary }).then((result) => {
      this.options.log.info("accelerator probed", { ...result });
      return result.accel;
    });
    return this.probe;
  }

  private async awaitDisconnected(vm: HostedVm): Promise<void> {
    const deadline = Date.now() + DISCONNECT_WAIT_MS;
    for (const disk of vm.record.request.disks) {
      while ((await this.options.volumes.connections(disk.volume)) > 0) {
        if (Date.now() > deadline) {
          this.options.log.warn("the export still has connections to a stopped VM's volume", { vm: vm.name, volume: disk.volume });
          return;
        }
        await Bun.sleep(20);
      }
    }
  }
}

/** Refuses what this host could never run; kernel and initrd must be files here. */
function checkHostFits(request: VmRequest): void {
  const hostMiB = Math.floor(totalmem() / (1024 * 1024));
  if (request.memoryMiB > hostMiB) throw new VmError("invalid", `${request.memoryMiB} MiB is more than this host's ${hostMiB} MiB`, "memoryMiB");
  for (const field of ["kernel", "initrd"] as const) {
    const path = request[field];
    if (path === undefined) continue;
    let isFile = false;
    try {
      isFile = statSync(path).isFile();
    } catch {
      // reported below
    }
    if (!isFile) throw new VmError("invalid", `${path} is not a file on this host`, field);
  }
}
