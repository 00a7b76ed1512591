import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { buildGuest, guestFiles } from "../helpers/guest.ts";
import { tempDir, waitFor } from "../helpers/photon.ts";
import { startPlasmaCluster, type PlasmaCluster } from "../helpers/plasmavmc.ts";

type Vm = { name: string; state: string; node: string | null; disks: string[]; attachMs: number | null; firstOutputMs?: number; lastError: string | null; host?: { pid?: number } };
type Volume = { name: string; backing: string | null; format: string };

let dir: ReturnType<typeof tempDir>;
let cluster: PlasmaCluster;
let guest: { kernel: string; initrd: string; disk: string };

/** Every QEMU process whose command line names this cluster's dir. */
function qemusOf(path: string): number[] {
  return readdirSync("/proc")
    .filter((p) => /^\d+$/.test(p))
    .filter((pid) => {
      try {
        const cmdline = readFileSync(`/proc/${pid}/cmdline`, "utf8");
        return cmdline.startsWith("qemu-system") && cmdline.includes(path);
      } catch {
        return false;
      }
    })
    .map(Number);
}

async function vm(name: string): Promise<Vm> {
  return (await (await cluster.api("GET", `/v1/vms/${name}`)).json()) as Vm;
}

async function consoleText(name: string): Promise<string> {
  const response = await cluster.api("GET", `/v1/vms/${name}/console`);
  return response.ok ? response.text() : "";
}

async function agentVolumes(node: string): Promise<string[]> {
  const agent = cluster.agents.find((a) => a.name === node)!;
  const url = await agent.proc.url();
  const response = await fetch(`${url}/v1/volumes`, { headers: { authorization: `Bearer ${cluster.controller.token}` } });
  return ((await response.json()) as { volumes: { name: string }[] }).volumes.map((v) => v.name);
}

const append = (extra: string) => `console=ttyS0 no_timer_check root=/dev/vda2 photon.data=/dev/vdb ${extra}`;

beforeAll(async () => {
  await buildGuest();
  guest = guestFiles;
  dir = tempDir("photon-vms-");
  cluster = await startPlasmaCluster(dir.path, { agents: 2 });
  const created = await cluster.cli("image", "create", "guest", "--from", guest.disk);
  if (created.code !== 0) throw new Error(created.stderr);
});

afterAll(async () => {
  for (const pid of qemusOf(dir.path)) process.kill(pid, "SIGKILL");
  await cluster.stop();
  dir[Symbol.dispose]();
});

describe("VMs", () => {
  test("a VM boots from an image-backed disk on a worker, runs its benchmark, and its data survives a stop and a move", async () => {
    const created = await cluster.cli(
      "vm", "create", "g1", "--image", "guest", "--memory", "256M", "--data-disk", "64M", "--data-disk", "64M", "--kernel", guest.kernel, "--initrd", guest.initrd,
      // vdb keeps the marker; the benchmark overwrites vdc.
      "--append", append("photon.bench=/dev/vdc photon.bench_mib=8 photon.marker_read=1 photon.marker_write=hello-from-g1"), "--json",
    );
    expect(created.stderr).toBe("");
    const started = JSON.parse(created.stdout) as Vm;
    expect(started.state).toBe("running");
    expect(started.disks).toEqual(["g1-root", "g1-data1", "g1-data2"]);
    expect(started.attachMs).toBeGreaterThan(0);
    const first = started.node!;

    // The boot disk is a qcow2 overlay on the image's base; on the worker the base is cached under the same name.
    const root = JSON.parse((await cluster.cli("volume", "show", "g1-root", "--json")).stdout) as Volume;
    expect(root.format).toBe("qcow2");
    expect(root.backing).toMatch(/^base-/);
    expect(await agentVolumes(first)).toEqual(expect.arrayContaining([root.backing!, "g1-root", "g1-data1", "g1-data2"]));

    const text = await waitFor(async () => {
      const out = await consoleText("g1");
      return out.includes("MARKER-WRITTEN") && out;
    }, "the guest's benchmark and marker", 90_000);
    for (const key of ["seq_write_mibps", "seq_read_mibps", "rand4k_read_iops"]) {
      const value = Number(new RegExp(`BENCH ${key}=([0-9.]+)`).exec(text)?.[1]);
      expect(value).toBeGreaterThan(0);
    }
    expect(text).toMatch(/MARKER \r?\n/); // a blank data disk the first time
    const shown = await vm("g1");
    expect(shown.firstOutputMs).toBeGreaterThan(0);

    const stopped = JSON.parse((await cluster.cli("vm", "stop", "g1", "--json")).stdout) as Vm;
    expect(stopped).toMatchObject({ state: "stopped", node: null });
    expect(qemusOf(dir.path)).toEqual([]);
    // The disks went back to the central store; the worker keeps only the cached base.
    expect(await agentVolumes(first)).toEqual([root.backing!]);

    const other = cluster.agents.find((a) => a.name !== first)!.name;
    const moved = JSON.parse((await cluster.cli("vm", "move", "g1", "--to", other, "--json")).stdout) as Vm;
    expect(moved).toMatchObject({ state: "running", node: other });
    await waitFor(async () => (await consoleText("g1")).includes("MARKER hello-from-g1"), "the marker written before the stop, read after the move", 90_000);
  });

  test("a second VM from the same image on a node that caches the base pulls only its overlay", async () => {
    const g1 = await vm("g1");
    const pulls = () => cluster.controller.proc.lines.filter((l) => l.msg === "base materialized onto node" && l.node === g1.node).length;
    const before = pulls();
    expect(before).toBe(1); // g1's start there pulled it
    const created = await cluster.cli("vm", "create", "g2", "--image", "guest", "--memory", "256M", "--kernel", guest.kernel, "--initrd", guest.initrd, "--append", append(""), "--no-start");
    expect(created.stderr).toBe("");
    const g2 = JSON.parse((await cluster.cli("vm", "move", "g2", "--to", g1.node!, "--json")).stdout) as Vm;
    expect(g2).toMatchObject({ state: "running", node: g1.node });
    expect(pulls()).toBe(before);
    await waitFor(async () => (await consoleText("g2")).includes("PHOTON-GUEST READY"), "g2 boots", 90_000);
  });

  test("one writer at a time: a running VM cannot start again and its volumes cannot be deleted or resized", async () => {
    expect((await cluster.cli("vm", "start", "g1")).stderr).toContain("already running");
    expect((await cluster.cli("volume", "delete", "g1-data1")).stderr).toContain('attached to VM "g1"');
    expect((await cluster.cli("volume", "resize", "g1-data1", "128M")).stderr).toContain("in use");
  });

  test("a QEMU killed with SIGKILL makes its VM crashed, with the console's tail", async () => {
    const g2 = await vm("g2");
    process.kill(g2.host!.pid!, "SIGKILL");
    const crashed = await waitFor(async () => {
      const v = await vm("g2");
      return v.state === "crashed" && v;
    }, "g2 crashed");
    expect(crashed.lastError).toContain("PHOTON-GUEST READY");
    // Stopping a crashed VM takes its disks back; it can start again.
    expect(JSON.parse((await cluster.cli("vm", "stop", "g2", "--json")).stdout).state).toBe("stopped");
  });

  test("a guest that powers itself off is shut off; started again, it finds what it wrote", async () => {
    const args = ["--image", "guest", "--memory", "256M", "--data-disk", "16M", "--kernel", guest.kernel, "--initrd", guest.initrd];
    const created = await cluster.cli("vm", "create", "g3", ...args, "--append", append("photon.marker_read=1 photon.marker_write=before-poweroff photon.poweroff=1"));
    expect(created.stderr).toBe("");
    await waitFor(async () => (await vm("g3")).state === "shutoff", "g3 shut off by its guest", 90_000);
    const restarted = JSON.parse((await cluster.cli("vm", "start", "g3", "--json")).stdout) as Vm;
    expect(restarted.state).toBe("running");
    await waitFor(async () => (await consoleText("g3")).includes("MARKER before-poweroff"), "the marker from the first boot", 90_000);
    await waitFor(async () => (await vm("g3")).state === "shutoff", "g3 shut off again", 90_000);
    expect((await cluster.cli("vm", "delete", "g3")).code).toBe(0);
  });

  test("an impossible VM gets the scheduling error and nothing is created", async () => {
    const before = (await cluster.cli("volume", "list", "--json")).stdout;
    const result = await cluster.cli("vm", "create", "huge", "--image", "guest", "--cpus", "64", "--memory", "1T");
    expect(result.code).not.toBe(0);
    expect(result.stderr).toContain("no node can take 64 vCPUs");
    expect(result.stderr).toContain("worker1 has only");
    expect((await cluster.cli("vm", "show", "huge")).code).not.toBe(0);
    expect((await cluster.cli("volume", "list", "--json")).stdout).toBe(before);
  });

  test("bad input gets a clear error and changes nothing", async () => {
    const before = (await cluster.cli("vm", "list", "--json")).stdout;
    expect((await cluster.cli("vm", "create", "x", "--image", "nope")).stderr).toContain('image "nope" does not exist');
    expect((await cluster.cli("vm", "create", "x", "--image", "guest", "--cpus", "0")).stderr).toContain("cpus");
    expect((await cluster.cli("vm", "create", "x", "--image", "guest", "--memory", "1K")).stderr).toContain("memory");
    expect((await cluster.cli("vm", "create", "x", "--image", "guest", "--data-disk", "huge")).stderr).toContain("dataDisks");
    expect((await cluster.cli("vm", "create", "g1", "--image", "guest")).stderr).toContain('VM "g1" already exists');
    expect((await cluster.cli("vm", "move", "g1", "--to", "nowhere")).stderr).toContain("nowhere");
    expect((await cluster.cli("vm", "list", "--json")).stdout).toBe(before);
    // Only the worker finds out that a kernel is missing: the VM made for it is rolled back.
    const volumes = (await cluster.cli("volume", "list", "--json")).stdout;
    const missingKernel = await cluster.cli("vm", "create", "nokernel", "--image", "guest", "--memory", "256M", "--kernel", join(dir.path, "no-such-vmlinuz"));
    expect(missingKernel.code).not.toBe(0);
    expect(missingKernel.stderr).toContain("kernel");
    expect((await cluster.cli("vm", "list", "--json")).stdout).toBe(before);
    expect((await cluster.cli("volume", "list", "--json")).stdout).toBe(volumes);
  });

  test("deleting VMs leaves nothing behind: no QEMU, no disks on workers or centrally, the base only while its image exists", async () => {
    expect((await cluster.cli("vm", "delete", "g1")).code).toBe(0);
    expect((await cluster.cli("vm", "delete", "g2")).code).toBe(0);
    expect(qemusOf(dir.path)).toEqual([]);
    const central = (JSON.parse((await cluster.cli("volume", "list", "--json")).stdout) as Volume[]).map((v) => v.name);
    expect(central.filter((n) => !n.startsWith("base-"))).toEqual([]);
    for (const agent of cluster.agents) {
      expect((await agentVolumes(agent.name)).filter((n) => !n.startsWith("base-"))).toEqual([]);
      const vmsDir = join(agent.dataDir, "vms");
      expect(existsSync(vmsDir) ? readdirSync(vmsDir) : []).toEqual([]);
    }
    expect((await cluster.cli("image", "delete", "guest")).code).toBe(0);
    expect((JSON.parse((await cluster.cli("volume", "list", "--json")).stdout) as Volume[]).length).toBe(0);
    for (const agent of cluster.agents) expect(await agentVolumes(agent.name)).toEqual([]);
  });
});
