import { afterAll, afterEach, beforeAll, describe, expect, test } from "bun:test";
import { existsSync, readdirSync, readFileSync, statSync } from "node:fs";
import { join, resolve } from "node:path";
import { startController, type TestController } from "../helpers/cluster.ts";
import { authed, startPhoton, tempDir, waitFor, type PhotonProcess } from "../helpers/photon.ts";

/**
 * PlasmaVMC's VM host (the agent's "compute" role) with real QEMU under TCG:
 * the test guest (scripts/build-guest) boots by direct kernel boot with its
 * disks on the agent's node-local volumes, attached over the agent's
 * unix-socket NBD export. VMs outlive the agent; these tests kill every QEMU
 * they started.
 */

const repo = resolve(import.meta.dir, "../..");
const guestDir = join(repo, ".cache/guest");
const kernel = join(guestDir, "vmlinuz");
const initrd = join(guestDir, "initrd.img");

let dir: ReturnType<typeof tempDir>;
let controller: TestController;
let agent: PhotonProcess;
let agentUrl: string;
let agentDir: string;

/** Starts (or restarts) the agent on the same data dir, VMs under TCG. */
async function startVmAgent(): Promise<void> {
  agent = startPhoton(
    ["agent", "--data-dir", agentDir, "--listen", "127.0.0.1:0", "--controller", controller.url, "--name", "vmhost",
      "--heartbeat-interval", "100", "--roles", "nbd,compute", "--accel", "tcg"],
    { env: { PHOTON_TOKEN: controller.token } },
  );
  agentUrl = await agent.url();
}

const api = (method: string, path: string, body?: unknown) =>
  fetch(agentUrl + path, authed(controller.token, { method, ...(body === undefined ? {} : { body: JSON.stringify(body), headers: { "content-type": "application/json" } }) }));

async function json<T = Record<string, unknown>>(res: Response, status: number): Promise<T> {
  const text = await res.text();
  expect({ status: res.status, text }).toEqual({ status, text: expect.any(String) });
  return JSON.parse(text) as T;
}

interface Vm {
  name: string;
  state: string;
  pid: number | null;
  accel: string;
  attachMs: number;
  firstOutputAt: string | null;
  qmpStatus: string | null;
  ioErrors: number;
  exit: { state: string; reason: string } | null;
  consoleTail?: string;
  runtimeDir: string;
}

const getVm = async (name: string) => json<Vm>(await api("GET", `/v1/vms/${name}`), 200);
const consoleText = async (name: string) => (await api("GET", `/v1/vms/${name}/console`)).text();
const waitForConsole = (name: string, text: string, timeoutMs = 60_000) =>
  waitFor(async () => (await consoleText(name)).includes(text), `"${text}" on ${name}'s console`, timeoutMs);

/** Creates a blank raw volume on the agent's node-local store. */
async function volume(name: string, size = "32M"): Promise<void> {
  await json(await api("POST", "/v1/volumes", { name, size }), 201);
}

/** Starts a small TCG VM booting the test guest; `extra` goes on the kernel command line. */
async function startVm(name: string, disks: string[], extra: string): Promise<Vm> {
  const vm = await json<Vm>(
    await api("POST", "/v1/vms", {
      name,
      cpus: 1,
      memoryMiB: 256,
      disks: disks.map((volume) => ({ volume })),
      kernel,
      initrd,
      append: `console=ttyS0 no_timer_check quiet ${extra}`,
      network: "none",
    }),
    201,
  );
  started.add(vm.pid!);
  return vm;
}

/** Whether a pid is a live (not zombie) QEMU. */
function qemuAlive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    if (stat.slice(stat.lastIndexOf(")") + 2).startsWith("Z")) return false;
    return readFileSync(`/proc/${pid}/cmdline`, "utf8").includes("qemu-system");
  } catch {
    return false;
  }
}

/** Every QEMU these tests started, killed in afterEach: they outlive agents by design. */
const started = new Set<number>();
function killStartedQemus(): void {
  for (const pid of started) if (qemuAlive(pid)) process.kill(pid, "SIGKILL");
  started.clear();
}

beforeAll(async () => {
  const build = Bun.spawnSync([join(repo, "scripts/build-guest")], { stdout: "pipe", stderr: "pipe" });
  if (build.exitCode !== 0) throw new Error(`scripts/build-guest failed: ${build.stderr.toString()}`);
  dir = tempDir("photon-vmhost-");
  agentDir = join(dir.path, "worker");
  controller = await startController(join(dir.path, "controller"));
  await startVmAgent();
}, 600_000);

afterEach(async () => {
  killStartedQemus();
});

afterAll(async () => {
  killStartedQemus();
  await agent?.[Symbol.asyncDispose]();
  await controller?.proc[Symbol.asyncDispose]();
  dir?.[Symbol.dispose]();
});

describe("VMs on an agent", () => {
  test("a VM boots from node-local volumes, prints its benchmark on the console API and powers itself off", async () => {
    await volume("bench-data");
    const vm = await startVm("bench", ["bench-data"], "photon.bench=/dev/vda photon.bench_mib=8 photon.bench_seconds=1 photon.poweroff=1");
    expect(vm).toMatchObject({ name: "bench", state: "running", accel: "tcg" });
    expect(vm.attachMs).toBeGreaterThan(0);
    expect(qemuAlive(vm.pid!)).toBe(true);
    // The disk is attached over the agent's unix-socket export.
    const data = await json<{ connections: number }>(await api("GET", "/v1/volumes/bench-data"), 200);
    expect(data.connections).toBeGreaterThan(0);

    // Following the console streams until QEMU exits (the guest powers off after its benchmark).
    const followed = await (await api("GET", "/v1/vms/bench/console?follow=true")).text();
    expect(followed).toContain("PHOTON-GUEST READY");
    for (const key of ["seq_write_mibps", "seq_read_mibps", "rand4k_read_iops"]) expect(followed).toMatch(new RegExp(`BENCH ${key}=\\d`));
    expect(followed).toContain("BENCH done");

    const after = await waitFor(async () => {
      const v = await getVm("bench");
      return v.state === "stopped" && v;
    }, "the powered-off VM to be stopped");
    expect(after.exit).toMatchObject({ state: "stopped", reason: "guest-poweroff" });
    expect(after.firstOutputAt).not.toBeNull();
    expect(qemuAlive(vm.pid!)).toBe(false);
    // An offset reads the rest of the log only.
    const tail = await (await api("GET", `/v1/vms/bench/console?offset=${followed.length - 10}`)).text();
    expect(tail).toBe(followed.slice(-10));
    expect((await api("DELETE", "/v1/vms/bench")).status).toBe(204);
    expect(existsSync(vm.runtimeDir)).toBe(false);
  }, 120_000);

  test("a VM boots through its BIOS from a root volume holding the guest's disk image", async () => {
    const image = join(guestDir, "disk.raw");
    await json(await api("POST", "/v1/volumes", { name: "boot-root", size: statSync(image).size }), 201);
    const { uris } = await json<{ uris: { unix: string } }>(await api("GET", "/v1/volumes/boot-root"), 200);
    const copy = Bun.spawnSync(["qemu-img", "convert", "-n", "-f", "raw", "-O", "raw", image, uris.unix], { stderr: "pipe" });
    expect(copy.stderr.toString()).toBe("");
    const vm = await json<Vm>(await api("POST", "/v1/vms", { name: "boot", cpus: 1, memoryMiB: 256, disks: [{ volume: "boot-root" }] }), 201);
    started.add(vm.pid!);
    await waitForConsole("boot", "PHOTON-GUEST READY");
    expect(await consoleText("boot")).toContain("SYSLINUX");
    expect((await api("DELETE", "/v1/vms/boot")).status).toBe(204);
  }, 120_000);

  test("a qcow2 volume reaches the guest as the content the export presents: a marker written to its base reads back through it", async () => {
    await volume("marker-base", "16M");
    await startVm("marker-w", ["marker-base"], "photon.data=/dev/vda photon.marker_write=through-the-overlay photon.poweroff=1");
    await waitFor(async () => (await getVm("marker-w")).state === "stopped", "the writer to power off", 60_000);
    expect(await consoleText("marker-w")).toContain("MARKER-WRITTEN");
    await json(await api("POST", "/v1/volumes", { name: "marker-overlay", format: "qcow2", backing: "marker-base", size: "16M" }), 201);
    await startVm("marker-r", ["marker-overlay"], "photon.data=/dev/vda photon.marker_read=1 photon.poweroff=1");
    await waitFor(async () => (await getVm("marker-r")).state === "stopped", "the reader to power off", 60_000);
    expect(await consoleText("marker-r")).toContain("MARKER through-the-overlay");
    for (const name of ["marker-w", "marker-r"]) expect((await api("DELETE", `/v1/vms/${name}`)).status).toBe(204);
  }, 120_000);

  test("stop powers the guest off, and nothing of its QEMU is left; the VM starts again and is deleted", async () => {
    await volume("web-data");
    const vm = await startVm("web", ["web-data"], "");
    await waitForConsole("web", "PHOTON-GUEST READY");
    // A second writer of the same volume is refused while this VM runs.
    const second = await api("POST", "/v1/vms", { name: "web2", cpus: 1, memoryMiB: 64, disks: [{ volume: "web-data" }], kernel, initrd });
    expect(second.status).toBe(409);

    const stopped = await json<Vm>(await api("POST", "/v1/vms/web/stop", { timeoutMs: 60_000 }), 200);
    expect(stopped).toMatchObject({ state: "stopped", pid: null, exit: { state: "stopped", reason: "stop-request" } });
    expect(qemuAlive(vm.pid!)).toBe(false);
    expect(readdirSync(vm.runtimeDir).sort()).toEqual(["console.log", "spec.json"]);
    expect((await json<{ connections: number }>(await api("GET", "/v1/volumes/web-data"), 200)).connections).toBe(0);
    // Stopping a stopped VM is a no-op.
    expect((await json<Vm>(await api("POST", "/v1/vms/web/stop"), 200)).state).toBe("stopped");

    const again = await json<Vm>(await api("POST", "/v1/vms/web/start"), 200);
    started.add(again.pid!);
    expect(again).toMatchObject({ state: "running", exit: null });
    expect(again.pid).not.toBe(vm.pid);
    await waitForConsole("web", "PHOTON-GUEST READY");
    expect((await api("POST", "/v1/vms/web/reboot")).status).toBe(200);

    expect((await api("DELETE", "/v1/vms/web")).status).toBe(204);
    expect(qemuAlive(again.pid!)).toBe(false);
    expect(existsSync(vm.runtimeDir)).toBe(false);
    expect((await api("GET", "/v1/vms/web")).status).toBe(404);
  }, 120_000);

  test("kill -9 of the agent leaves the VM running; the restarted agent re-adopts it and the guest's writes see no I/O error", async () => {
    await volume("loop-data");
    const vm = await startVm("loop", ["loop-data"], "photon.writeloop=/dev/vda photon.writeloop_seconds=15");
    await waitForConsole("loop", "WRITELOOP ok");
    await agent.stop("SIGKILL");
    const writesBefore = readFileSync(join(vm.runtimeDir, "console.log"), "utf8").match(/WRITELOOP ok \d+/g)?.length ?? 0;
    await Bun.sleep(1000); // the guest keeps writing into the missing export meanwhile
    expect(qemuAlive(vm.pid!)).toBe(true);

    await startVmAgent();
    const adopted = await getVm("loop");
    expect(adopted).toMatchObject({ state: "running", pid: vm.pid, qmpStatus: "running" });
    const console = await waitFor(async () => {
      const text = await consoleText("loop");
      return /WRITELOOP (done|error)/.test(text) && text;
    }, "the write loop to end", 90_000);
    expect(console).not.toContain("WRITELOOP error");
    expect(console).not.toMatch(/I\/O error/);
    expect(console.match(/WRITELOOP ok \d+/g)!.length).toBeGreaterThan(writesBefore);
    expect((await getVm("loop")).ioErrors).toBe(0);

    const stopped = await json<Vm>(await api("POST", "/v1/vms/loop/stop", { force: true }), 200);
    expect(stopped.state).toBe("stopped");
    expect(qemuAlive(vm.pid!)).toBe(false);
    expect((await api("DELETE", "/v1/vms/loop")).status).toBe(204);
  }, 180_000);

  test("kill -9 of QEMU makes the VM crashed, with its console tail", async () => {
    await volume("crash-data");
    const vm = await startVm("crash", ["crash-data"], "");
    await waitForConsole("crash", "PHOTON-GUEST READY");
    process.kill(vm.pid!, "SIGKILL");
    const crashed = await waitFor(async () => {
      const v = await getVm("crash");
      return v.state === "crashed" && v;
    }, "the VM to be crashed");
    expect(crashed.exit).toMatchObject({ state: "crashed" });
    expect(crashed.consoleTail).toContain("PHOTON-GUEST READY");
    await agent.waitForLog((l) => l.msg === "VM crashed" && l.vm === "crash", "the crash logged");
    const metrics = await (await api("GET", "/metrics")).text();
    expect(metrics).toMatch(/^photon_vm_crashes_total 1$/m);
    // The verdict survives an agent restart, without a second report.
    await agent.stop();
    await startVmAgent();
    expect((await getVm("crash")).state).toBe("crashed");
    expect(agent.lines.filter((l) => l.msg === "VM crashed")).toEqual([]);
    expect((await api("DELETE", "/v1/vms/crash")).status).toBe(204);
  }, 120_000);

  test("bad requests are refused with the field named, and start nothing", async () => {
    await volume("spare");
    const before = readdirSync(join(agentDir, "vms")).sort();
    const good = { name: "bad", cpus: 1, memoryMiB: 128, disks: [{ volume: "spare" }], kernel, initrd };
    const cases: [unknown, number, string][] = [
      [{ ...good, disks: [{ volume: "no-such-volume" }] }, 400, "disks.0.volume"],
      [{ ...good, cpus: 0 }, 400, "cpus"],
      [{ ...good, cpus: 1.5 }, 400, "cpus"],
      [{ ...good, memoryMiB: 1024 * 1024 * 1024 }, 400, "memoryMiB"],
      [{ ...good, memoryMiB: 1 }, 400, "memoryMiB"],
      [{ ...good, name: "../escape" }, 400, "name"],
      [{ ...good, kernel: join(dir.path, "missing-kernel") }, 400, "kernel"],
      [{ ...good, kernel: "relative/vmlinuz" }, 400, "kernel"],
      [{ ...good, kernel: undefined }, 400, "kernel"],
      [{ ...good, disks: [{ volume: "spare" }, { volume: "spare" }] }, 400, "disks.1.volume"],
      [{ ...good, network: "bridge" }, 400, "network"],
      [{ ...good, accel: "hvf" }, 400, "accel"],
      [{ ...good, extra: 1 }, 400, "(body)"],
    ];
    for (const [body, status, field] of cases) {
      const res = await api("POST", "/v1/vms", body);
      const problem = (await res.json()) as { field?: string };
      expect({ body, status: res.status, field: problem.field }).toEqual({ body, status, field });
    }
    const malformed = await fetch(`${agentUrl}/v1/vms`, authed(controller.token, { method: "POST", body: "{", headers: { "content-type": "application/json" } }));
    expect(malformed.status).toBe(400);
    expect((await api("POST", "/v1/vms/none/stop")).status).toBe(404);
    expect((await api("GET", "/v1/vms/none/console")).status).toBe(404);
    expect((await fetch(`${agentUrl}/v1/vms`)).status).toBe(401);
    expect(readdirSync(join(agentDir, "vms")).sort()).toEqual(before);

    // A duplicate name is refused while the first VM exists, whatever its state.
    await volume("dup-data");
    await startVm("dup", ["dup-data"], "");
    const dup = await api("POST", "/v1/vms", { ...good, name: "dup" });
    expect(dup.status).toBe(409);
    expect((await json<{ vms: Vm[] }>(await api("GET", "/v1/vms"), 200)).vms.map((v) => v.name)).toEqual(["dup"]);
    expect((await api("DELETE", "/v1/vms/dup")).status).toBe(204);
  }, 120_000);
});
