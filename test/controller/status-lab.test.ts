import { expect, test } from "bun:test";
import type { ClusterStatus } from "../../src/controller/status.ts";
import { runPhoton, tempDir, waitFor } from "../helpers/photon.ts";
import { labCleanup, labEnv, labUp } from "../lab/harness.ts";

const root = process.getuid?.() === 0;

/** `photon status --json` as an operator runs it against a running three-node lab (netns: addresses of its own, no port clashes). */
test.skipIf(!root)("photon status --json on a running lab: three nodes up, every service answering, volume totals, replication health", async () => {
  using dir = tempDir("wt-status-lab-");
  await using _cleanup = labCleanup(dir.path);
  const { lab } = await labUp(dir.path, ["--nodes", "3"]);
  await using _lab = lab;
  const env = await labEnv(dir.path);
  const status = async () => {
    const out = await runPhoton(["status", "--json"], { env });
    expect(out.stderr).toBe("");
    return JSON.parse(out.stdout) as ClusterStatus;
  };
  const healthy = await waitFor(async () => {
    const s = await status();
    // The gateway may have called an agent before it listened: its mark clears on the next probe.
    return s.health === "ok" && s.nodes.length === 3 && s.replication?.unhealthyNodes === 0 ? s : undefined;
  }, "every node registered, every service answering and every storage node healthy to the gateway");
  expect(healthy.nodes.map((n) => [n.name, n.state])).toEqual([
    ["node01", "up"],
    ["node02", "up"],
    ["node03", "up"],
  ]);
  expect(healthy.services.map((s) => (s.node ? `${s.service} ${s.node}` : s.service)).sort()).toEqual(
    ["agent node01", "agent node02", "agent node03", "controller", "nbd-export", "s3", "s3-gateway admin"].sort(),
  );
  expect(healthy.volumes).toEqual({ count: 0, bytes: 0 });
  // The lab's gateway replicates over the three agents: its gauges are in the status.
  expect(healthy.replication).toEqual({ underReplicated: 0, repairing: 0, unhealthyNodes: 0 });
  expect((await runPhoton(["status"], { env })).stdout).toContain("chunks   0 under-replicated, 0 being repaired, 0 storage nodes unhealthy");

  expect((await runPhoton(["volume", "create", "v1", "--size", "64M"], { env })).code).toBe(0);
  expect((await status()).volumes).toEqual({ count: 1, bytes: 64 * 1024 * 1024 });
});
