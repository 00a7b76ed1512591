import { describe, expect, test } from "bun:test";
import { escapeOptionValue, qemuArgv, type QemuSpec } from "./command-line.ts";

const spec: QemuSpec = {
  binary: "qemu-system-x86_64",
  name: "web,1",
  machine: "q35",
  accel: "tcg",
  cpus: 2,
  memoryMiB: 256,
  qmpSocket: "/data/vms/web,1/qmp.sock",
  consoleLog: "/data/vms/web,1/console.log",
  pidFile: "/data/vms/web,1/pid",
  daemonize: true,
  disks: [
    { socket: "/data/local-nbd.sock", exportName: "root", readOnly: false },
    { socket: "/data/local-nbd.sock", exportName: "seed", readOnly: true },
  ],
  network: "none",
  reconnectDelaySeconds: 60,
};

/** The values following each occurrence of `flag`. */
const valuesOf = (argv: string[], flag: string) => argv.flatMap((a, i) => (a === flag ? [argv[i + 1]!] : []));

describe("QEMU command line", () => {
  test("a VM runs detached, without defaults, with its monitor, console and pidfile in its runtime dir", () => {
    const argv = qemuArgv(spec);
    expect(argv[0]).toBe("qemu-system-x86_64");
    expect(valuesOf(argv, "-name")).toEqual(["web,,1"]);
    expect(valuesOf(argv, "-machine")).toEqual(["q35"]);
    expect(valuesOf(argv, "-accel")).toEqual(["tcg"]);
    expect(valuesOf(argv, "-cpu")).toEqual([]); // TCG's default model, not the slow `max`
    expect(valuesOf(argv, "-smp")).toEqual(["2"]);
    expect(valuesOf(argv, "-m")).toEqual(["256M"]);
    for (const flag of ["-nodefaults", "-no-user-config", "-daemonize", "-no-shutdown"]) expect(argv).toContain(flag);
    expect(valuesOf(argv, "-display")).toEqual(["none"]);
    // Commas in paths are doubled inside QemuOpts values.
    expect(valuesOf(argv, "-chardev")).toEqual([
      "socket,id=qmp,path=/data/vms/web,,1/qmp.sock,server=on,wait=off",
      "file,id=console,path=/data/vms/web,,1/console.log",
    ]);
    expect(valuesOf(argv, "-mon")).toEqual(["chardev=qmp,mode=control"]);
    expect(valuesOf(argv, "-serial")).toEqual(["chardev:console"]);
    expect(valuesOf(argv, "-pidfile")).toEqual(["/data/vms/web,1/pid"]);
    expect(argv).not.toContain("-kernel");
    expect(argv).not.toContain("-netdev");
  });

  test("every disk is raw over the unix-socket NBD export, reconnecting, on virtio-blk with a write-back cache", () => {
    const argv = qemuArgv(spec);
    const blockdevs = valuesOf(argv, "-blockdev").map((b) => JSON.parse(b) as Record<string, unknown>);
    expect(blockdevs).toEqual([
      {
        driver: "raw",
        "node-name": "disk0",
        "read-only": false,
        discard: "unmap",
        cache: { "no-flush": false },
        file: {
          driver: "nbd",
          "node-name": "disk0-nbd",
          server: { type: "unix", path: "/data/local-nbd.sock" },
          export: "root",
          "reconnect-delay": 60,
          "read-only": false,
          cache: { "no-flush": false },
        },
      },
      expect.objectContaining({ "node-name": "disk1", "read-only": true, file: expect.objectContaining({ export: "seed", "read-only": true }) }),
    ]);
    expect(valuesOf(argv, "-device")).toEqual([
      "virtio-blk-pci,drive=disk0,id=vd0,write-cache=on,bootindex=0",
      "virtio-blk-pci,drive=disk1,id=vd1,write-cache=on",
    ]);
  });

  test("direct kernel boot, KVM and user networking when asked", () => {
    const argv = qemuArgv({ ...spec, accel: "kvm", kernel: "/k/vmlinuz", initrd: "/k/initrd.img", append: "console=ttyS0 photon.poweroff=1", network: "user", daemonize: false });
    expect(valuesOf(argv, "-accel")).toEqual(["kvm"]);
    expect(valuesOf(argv, "-cpu")).toEqual(["host"]);
    expect(valuesOf(argv, "-kernel")).toEqual(["/k/vmlinuz"]);
    expect(valuesOf(argv, "-initrd")).toEqual(["/k/initrd.img"]);
    expect(valuesOf(argv, "-append")).toEqual(["console=ttyS0 photon.poweroff=1"]);
    expect(valuesOf(argv, "-netdev")).toEqual(["user,id=net0"]);
    expect(valuesOf(argv, "-device")).toEqual([
      "virtio-blk-pci,drive=disk0,id=vd0,write-cache=on",
      "virtio-blk-pci,drive=disk1,id=vd1,write-cache=on",
      "virtio-net-pci,netdev=net0",
    ]);
    expect(argv).not.toContain("-daemonize");
  });

  test("option values escape commas only", () => {
    expect(escapeOptionValue("a,b,,c=d")).toBe("a,,b,,,,c=d");
  });
});
