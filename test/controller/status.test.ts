import { describe, expect, test } from "bun:test";
import { join } from "node:path";
import type { ClusterStatus } from "../../src/controller/status.ts";
import { startAgent, startController } from "../helpers/cluster.ts";
import { startExport } from "../helpers/nbd-export.ts";
import { runPhoton, tempDir, waitFor } from "../helpers/photon.ts";

/** `photon status` against a controller with its central nbd-export and an agent, as an operator checks a cluster. */
describe("photon status", () => {
  test("shows nodes, services and their health, and volume totals; a stopped nbd-export makes it degraded", async () => {
    using dir = tempDir();
    const token = "status-token-" + crypto.randomUUID();
    await using ex = await startExport({ token });
    const c = await startController(join(dir.path, "ctl"), ["--token", token, "--coronafs", ex.admin]);
    await using controller = c.proc;
    await using agent = await startAgent(c, join(dir.path, "agent"), "node02");
    await ex.createVolume("a", "1G");
    await ex.createVolume("b", "512M");
    const status = async () => {
      const out = await runPhoton(["status", "--json", "--server", c.url], { env: { PHOTON_TOKEN: token } });
      expect(out.code).toBe(0);
      return JSON.parse(out.stdout) as ClusterStatus;
    };
    await waitFor(async () => (await status()).nodes.length === 1, "node02 registered");

    const healthy = await status();
    expect(healthy.health).toBe("ok");
    expect(healthy.nodes[0]).toMatchObject({ name: "node02", state: "up", roles: ["storage", "compute", "nbd"] });
    expect(healthy.nodes[0]!.diskBytes).toBeGreaterThan(0);
    expect(healthy.services.map((s) => [s.service, s.node, s.health])).toEqual([
      ["controller", undefined, "ok"],
      ["nbd-export", undefined, "ok"],
      ["agent", "node02", "ok"],
    ]);
    expect(healthy.volumes).toEqual({ count: 2, bytes: 1.5 * 1024 ** 3 });
    expect(healthy.images).toEqual({ count: 0, bytes: 0 });
    expect(healthy.vms).toEqual({ count: 0, running: 0 });

    const table = await runPhoton(["status", "--server", c.url], { env: { PHOTON_TOKEN: token } });
    expect(table.stdout).toStartWith("cluster: ok\n");
    expect(table.stdout).toMatch(/^node02\s+up\s+active\s+storage,compute,nbd/m);
    expect(table.stdout).toMatch(/^volumes\s+2 \(1\.5 GiB provisioned\)$/m);

    await ex.proc.stop();
    const degraded = await status();
    expect(degraded.health).toBe("degraded");
    expect(degraded.services.find((s) => s.service === "nbd-export")?.health).toBe("unreachable");
    expect(degraded.volumes).toBeUndefined();
    const degradedTable = await runPhoton(["status", "--server", c.url], { env: { PHOTON_TOKEN: token } });
    expect(degradedTable.stdout).toStartWith("cluster: degraded (1 of 3 services unhealthy)\n");
    void controller;
    void agent;
  });
});

describe("what the controller and agents log and count", () => {
  test("heartbeats are logged at debug, not info; an agent's /metrics has its data dir's capacity", async () => {
    using dir = tempDir();
    const c = await startController(join(dir.path, "ctl"));
    await using controller = c.proc;
    await using agent = await startAgent(c, join(dir.path, "agent"), "node03");
    const heartbeatAt = async () => {
      const res = await fetch(`${c.url}/v1/nodes/node03`, { headers: { authorization: `Bearer ${c.token}` } });
      return res.ok ? ((await res.json()) as { lastHeartbeatAt: string }).lastHeartbeatAt : undefined;
    };
    const first = await waitFor(heartbeatAt, "node03 registered");
    await waitFor(async () => (await heartbeatAt())! > first, "a heartbeat");
    expect(c.proc.lines.filter((l) => l.msg === "request" && String(l.path).endsWith("/heartbeat"))).toEqual([]);
    expect(agent.lines.some((l) => l.msg === "registered with controller")).toBe(true);

    const agentUrl = await agent.url();
    const metrics = await (await fetch(`${agentUrl}/metrics`, { headers: { authorization: `Bearer ${c.token}` } })).text();
    expect(metrics).toMatch(/^photon_data_dir_bytes\{kind="free"\} [1-9]\d*$/m);
    expect(metrics).toMatch(/^photon_volumes 0$/m);
    void controller;
  });
});
