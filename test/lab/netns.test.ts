import { expect, test } from "bun:test";
import { isAlive, listensOn } from "../../src/lab/processes.ts";
import type { LabNode } from "../../src/lab/state.ts";
import { onNode } from "../../src/lab/state.ts";
import { runPhoton, tempDir, waitFor } from "../helpers/photon.ts";
import { expectNothingLeft, labCleanup, labEnv, labStatus, labUp, nbdVolume, s3RoundTrip } from "./harness.ts";

const root = process.getuid?.() === 0;

/** Received Mbit/s of a 2 s iperf3 run from `client` to `server` across their shaped links. */
async function iperf(client: LabNode, server: LabNode): Promise<number> {
  const srv = Bun.spawn(onNode(server, ["iperf3", "-s", "-1", "-B", server.address, "-p", "5201"]), { stdout: "ignore", stderr: "pipe" });
  try {
    // `ip netns exec` execs iperf3: the PID is the server's own, holding the socket once it listens.
    await waitFor(() => {
      if (srv.exitCode !== null) throw new Error("iperf3 -s exited");
      return listensOn(srv.pid, server.address, 5201);
    }, "iperf3 server listening");
    const run = Bun.spawnSync(onNode(client, ["iperf3", "-c", server.address, "-p", "5201", "-t", "2", "-J"]), { stdout: "pipe", stderr: "pipe" });
    expect(run.stderr.toString()).toBe("");
    const result = JSON.parse(run.stdout.toString()) as { end: { sum_received: { bits_per_second: number } } };
    return result.end.sum_received.bits_per_second / 1e6;
  } finally {
    srv.kill();
    await srv.exited;
  }
}

test.skipIf(!root)("netns lab: a namespace per node on shaped links; S3 and NBD from the host; after its process is killed, the next lab up cleans up and starts; lab down leaves nothing", async () => {
  using dir = tempDir("wt-lab-netns-");
  await using _cleanup = labCleanup(dir.path);
  const args = ["--nodes", "3", "--base-port", "21000", "--link-rate", "200mbit", "--link-delay", "0.2ms"];
  const first = await labUp(dir.path, args);
  await using _first = first.lab;
  const state = first.state;
  expect(state.network).toBe("netns");
  expect(state.nodes.map((n) => n.address.split(".").pop())).toEqual(["11", "12", "13"]);
  expect(state.nodes.map((n) => n.netns)).toEqual([1, 2, 3].map((n) => `photon-${state.id}-node0${n}`));
  expect(state.linkRate).toBe("200mbit");
  // This kernel may lack sch_netem: then the delay is reported as unavailable, never a failure.
  if (state.linkDelay === undefined) {
    expect(state.linkDelayUnavailable?.requested).toBe("0.2ms");
    await first.lab.waitForLog((l) => l.level === "warn" && l.msg.includes("--link-delay is unavailable"), "the delay warning");
  }
  const qdisc = (node: LabNode) => Bun.spawnSync(["tc", "qdisc", "show", "dev", node.vethHost!], { stdout: "pipe" }).stdout.toString() + Bun.spawnSync(onNode(node, ["tc", "qdisc", "show", "dev", "eth0"]), { stdout: "pipe" }).stdout.toString();
  for (const node of state.nodes) expect(qdisc(node).match(/tbf .* rate 200Mbit/g)).toHaveLength(2);

  const { code, status } = await labStatus(dir.path);
  expect(code).toBe(0);
  expect(status.services.filter((s) => !s.healthy)).toEqual([]);
  const env = await labEnv(dir.path);
  await s3RoundTrip(env);
  await nbdVolume(state, env);

  // Shaping in effect between two nodes' namespaces (node02 → node03 crosses both of their links).
  const mbits = await iperf(state.nodes[1]!, state.nodes[2]!);
  console.log(`iperf3 node02 → node03 at --link-rate 200mbit: ${mbits.toFixed(1)} Mbit/s`);
  expect(mbits).toBeGreaterThan(150);
  expect(mbits).toBeLessThan(215);

  // The lab's process killed outright: its services die with it (PDEATHSIG); its namespaces stay
  // until the next lab up in the dir removes them and starts afresh.
  first.lab.proc.kill("SIGKILL");
  await first.lab.exited;
  await waitFor(() => status.services.every((s) => !isAlive(s.pid)), "the services died with the lab");
  expect(Bun.spawnSync(["ip", "netns", "list"], { stdout: "pipe" }).stdout.toString()).toContain(`photon-${state.id}-node01`);
  const second = await labUp(dir.path, args);
  await using _second = second.lab;
  await second.lab.waitForLog((l) => l.msg === "removed the leftovers of a lab that did not stop", "leftovers removed");
  expect((await labStatus(dir.path)).code).toBe(0);
  // node01's data dir survived, as a disk would: a new bucket on the restarted cluster.
  await s3RoundTrip(await labEnv(dir.path), "after-restart");

  const down = await runPhoton(["lab", "down", "--dir", dir.path]);
  expect(down.code).toBe(0);
  expect(await second.lab.exited).toBe(0);
  expectNothingLeft(dir.path, second.state);
  expectNothingLeft(dir.path, state);
});
