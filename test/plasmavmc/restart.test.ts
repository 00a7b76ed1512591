import { expect, test } from "bun:test";
import { join } from "node:path";
import { startController } from "../helpers/cluster.ts";
import { mustRun } from "../helpers/nbd-export.ts";
import { runPhoton, tempDir } from "../helpers/photon.ts";
import { startPlasmaCluster } from "../helpers/plasmavmc.ts";

test("a controller restart keeps its images, image-backed volumes and VMs, and goes on serving them", async () => {
  using dir = tempDir("photon-restart-");
  const cluster = await startPlasmaCluster(dir.path);
  try {
    const image = join(dir.path, "small.qcow2");
    await mustRun(["qemu-img", "create", "-f", "qcow2", image, "8M"]);
    expect((await cluster.cli("image", "create", "small", "--from", image)).code).toBe(0);
    const created = await cluster.cli("vm", "create", "kept", "--image", "small", "--data-disk", "4M", "--no-start", "--json");
    expect(created.stderr).toBe("");
    const before = { images: (await cluster.cli("image", "list", "--json")).stdout, vm: (await cluster.cli("vm", "show", "kept", "--json")).stdout, volumes: (await cluster.cli("volume", "list", "--json")).stdout };

    // The same data dir, port and settings: what systemd does on a restart.
    const { controller } = cluster;
    const port = Number(new URL(controller.url).port);
    await controller.proc.stop();
    const again = await startController(controller.dataDir, controller.proc.args.slice(controller.proc.args.indexOf("--node-timeout") + 2), port);
    cluster.controller = again;
    const env = { PHOTON_TOKEN: again.token, PHOTON_SERVER: again.url };
    expect((await runPhoton(["image", "list", "--json"], { env })).stdout).toBe(before.images);
    expect((await runPhoton(["vm", "show", "kept", "--json"], { env })).stdout).toBe(before.vm);
    expect((await runPhoton(["volume", "list", "--json"], { env })).stdout).toBe(before.volumes);
    // …and still knows what depends on what.
    expect((await runPhoton(["image", "delete", "small"], { env })).stderr).toContain("kept-root");
    expect((await runPhoton(["vm", "delete", "kept"], { env })).code).toBe(0);
    expect((await runPhoton(["image", "delete", "small"], { env })).code).toBe(0);
  } finally {
    await cluster.stop();
  }
});
