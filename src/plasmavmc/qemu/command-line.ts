/** Acceleration a VM runs under: KVM, or QEMU's own translator. */
export type Accel = "kvm" | "tcg";

/** A disk served by an NBD export on a unix socket. */
export interface NbdDisk {
  /** The NBD server's unix socket. */
  socket: string;
  /** The export (volume) name. */
  exportName: string;
  readOnly: boolean;
}

/** Everything the QEMU command line is built from; paths must be absolute (`-daemonize` changes to `/`). */
export interface QemuSpec {
  binary: string;
  /** The VM's name (shown by `ps` and in QEMU's messages). */
  name: string;
  machine: "q35" | "pc";
  accel: Accel;
  cpus: number;
  memoryMiB: number;
  /** The monitor's unix socket (QMP). */
  qmpSocket: string;
  /** The serial console is written to this file. */
  consoleLog: string;
  pidFile: string;
  /** Fork into the background once started (see {@link qemuArgv}). */
  daemonize: boolean;
  kernel?: string;
  initrd?: string;
  append?: string;
  /** The first disk is the boot disk (vda). */
  disks: NbdDisk[];
  network: "none" | "user";
  /** Seconds the nbd client holds guest I/O while it reconnects to a restarted export. */
  reconnectDelaySeconds: number;
}

/** The block node a disk's device sits on; `query-block` reports it under `inserted.node-name`. */
export function diskNodeName(index: number): string {
  return `disk${index}`;
}

/** QEMU's option syntax (QemuOpts): a comma inside a value is written twice. */
export function escapeOptionValue(value: string): string {
  return value.replaceAll(",", ",,");
}

/**
 * The argv of a VM's QEMU. Nothing of the host is used implicitly
 * (`-nodefaults -no-user-config`). With `daemonize` QEMU forks, calls setsid
 * and detaches from the agent's stdio once its devices are set up: it outlives
 * the agent, which re-adopts it through the pidfile and the QMP socket.
 * `-no-shutdown` keeps QEMU alive after the guest powers off, so a power-off
 * that happens while no agent watches is still seen as one (status `shutdown`).
 */
export function qemuArgv(spec: QemuSpec): string[] {
  const argv = [
    spec.binary,
    "-name", escapeOptionValue(spec.name),
    "-machine", spec.machine,
    "-accel", spec.accel,
    // Under TCG QEMU's default model: `max` makes the guest use every instruction set
    // TCG emulates, and its I/O path ran at a fifth of the default's speed here (bench/vm.ts).
    ...(spec.accel === "kvm" ? ["-cpu", "host"] : []),
    "-smp", String(spec.cpus),
    "-m", `${spec.memoryMiB}M`,
    "-nodefaults", "-no-user-config", "-display", "none", "-no-shutdown",
    "-chardev", `socket,id=qmp,path=${escapeOptionValue(spec.qmpSocket)},server=on,wait=off`,
    "-mon", "chardev=qmp,mode=control",
    "-chardev", `file,id=console,path=${escapeOptionValue(spec.consoleLog)}`,
    "-serial", "chardev:console",
    "-pidfile", spec.pidFile,
  ];
  if (spec.daemonize) argv.push("-daemonize");
  if (spec.kernel !== undefined) argv.push("-kernel", spec.kernel);
  if (spec.initrd !== undefined) argv.push("-initrd", spec.initrd);
  if (spec.append !== undefined) argv.push("-append", spec.append);
  // With direct kernel boot the kernel loader's option ROM takes boot index 0.
  const bootDisk = spec.kernel === undefined ? 0 : -1;
  spec.disks.forEach((disk, index) => argv.push(...diskArgs(disk, index, spec.reconnectDelaySeconds, index === bootDisk)));
  if (spec.network === "user") argv.push("-netdev", "user,id=net0", "-device", "virtio-net-pci,netdev=net0");
  return argv;
}

/**
 * One disk: an `nbd` protocol node on the export's unix socket, a `raw` format
 * node on top, and a virtio-blk device. Always `raw`: a Photon export serves
 * a qcow2 volume's guest-visible content (it implements qcow2 itself), so
 * QEMU never sees qcow2 metadata. `reconnect-delay` makes the nbd driver hold
 * requests while the export restarts (the agent's export lives in the agent)
 * instead of failing them. O_DIRECT has no meaning on a socket; what
 * `cache=none` gives a guest is kept: a write-back cache on the device
 * (`write-cache=on`; with -blockdev QEMU would otherwise write through,
 * flushing after every write) whose flushes reach the export as NBD_CMD_FLUSH.
 */
function diskArgs(disk: NbdDisk, index: number, reconnectDelaySeconds: number, boot: boolean): string[] {
  const node = diskNodeName(index);
  const blockdev = {
    driver: "raw",
    "node-name": node,
    "read-only": disk.readOnly,
    discard: "unmap",
    cache: { "no-flush": false },
    file: {
      driver: "nbd",
      "node-name": `${node}-nbd`,
      server: { type: "unix", path: disk.socket },
      export: disk.exportName,
      "reconnect-delay": reconnectDelaySeconds,
      "read-only": disk.readOnly,
      cache: { "no-flush": false },
    },
  };
  const device = ["virtio-blk-pci", `drive=${node}`, `id=vd${index}`, "write-cache=on", ...(boot ? ["bootindex=0"] : [])];
  return ["-blockdev", JSON.stringify(blockdev), "-device", device.join(",")];
}
