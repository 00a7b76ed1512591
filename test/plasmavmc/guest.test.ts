import { afterAll, afterEach, beforeAll, describe, expect, test } from "bun:test";
import { randomBytes } from "node:crypto";
import { truncateSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { bootGuest, buildGuest, type GuestBoot, type GuestVm, qmpCommand } from "../helpers/guest.ts";
import { tempDir } from "../helpers/photon.ts";

// The PlasmaVMC test guest (docs/guest.md) under TCG: it boots from its disk and
// directly, benchmarks a data disk, keeps a marker across boots and powers off.
const scratch = tempDir("photon-guest-");
const running = new Set<GuestVm>();
const base = "console=ttyS0 no_timer_check quiet root=/dev/vda2";

function boot(options: GuestBoot): GuestVm {
  const vm = bootGuest(options);
  running.add(vm);
  return vm;
}

/** A blank sparse raw data disk. */
function dataDisk(name: string, mib = 64): string {
  const path = join(scratch.path, name);
  writeFileSync(path, "");
  truncateSync(path, mib * 1024 * 1024);
  return path;
}

beforeAll(async () => {
  await buildGuest();
}, 600_000);
afterEach(async () => {
  await Promise.all([...running].map((vm) => vm.kill()));
  running.clear();
});
afterAll(() => scratch[Symbol.dispose]());

describe("PlasmaVMC test guest", () => {
  test("boots from its disk through syslinux and powers off on QMP system_powerdown", async () => {
    const qmpSocket = join(scratch.path, "qmp.sock");
    const vm = boot({ qmpSocket });
    await vm.waitForLine(/^PHOTON-GUEST READY$/);
    await qmpCommand(qmpSocket, "system_powerdown");
    await vm.waitForLine(/^PHOTON-GUEST POWERDOWN$/);
    expect(await vm.waitForExit()).toBe(0);
  }, 45_000);

  test("photon.bench=1 prints positive BENCH numbers for /dev/vdb, then powers off by itself", async () => {
    const vm = boot({ append: `${base} photon.bench=1 photon.bench_mib=16 photon.bench_seconds=1 photon.poweroff=1`, dataDisk: dataDisk("bench.raw") });
    await vm.waitForLine(/^BENCH done$/, 45_000);
    const bench = Object.fromEntries(
      vm.lines.flatMap((line) => {
        const m = /^BENCH (\w+)=([0-9.]+)$/.exec(line);
        return m ? [[m[1]!, Number(m[2])]] : [];
      }),
    );
    for (const key of ["seq_write_mibps", "seq_read_mibps", "rand4k_read_iops"]) {
      expect(bench[key], `${key} in:\n${vm.console()}`).toBeGreaterThan(0);
    }
    expect(vm.lines).toContain("BENCH tool=fio");
    expect(await vm.waitForExit()).toBe(0);
  }, 60_000);

  test("a marker written in one boot is read back in the next from the same data disk", async () => {
    const disk = dataDisk("marker.raw");
    const marker = `photon-${randomBytes(6).toString("hex")}`;
    const writer = boot({ append: `${base} photon.marker_write=${marker} photon.poweroff=1`, dataDisk: disk });
    await writer.waitForLine(/^MARKER-WRITTEN$/);
    expect(await writer.waitForExit()).toBe(0);

    const reader = boot({ append: `${base} photon.marker_read=1 photon.poweroff=1`, dataDisk: disk });
    expect(await reader.waitForLine(/^MARKER /)).toBe(`MARKER ${marker}`);
    expect(await reader.waitForExit()).toBe(0);
  }, 60_000);
});
