import { expect, test } from "bun:test";
import { runPhoton, tempDir, waitFor } from "../helpers/photon.ts";
import { expectNothingLeft, labCleanup, labEnv, labStatus, loopbackLab, nbdVolume, s3RoundTrip } from "./harness.ts";

test("loopback lab: node N on 127.0.1.N serves S3 and NBD to the host, restarts a killed service, refuses a second lab on its ports, and lab down leaves nothing", async () => {
  using dir = tempDir("wt-lab-loopback-");
  await using _cleanup = labCleanup(dir.path);
  const { lab, state, ports } = await loopbackLab(dir.path);
  await using _lab = lab;
  expect(state.network).toBe("loopback");
  expect(state.nodes.map((n) => n.address)).toEqual(["127.0.1.1", "127.0.1.2", "127.0.1.3"]);

  const { code, status } = await labStatus(dir.path);
  expect(code).toBe(0);
  expect(status.services.map((s) => `${s.node} ${s.mode} ${s.healthy}`)).toEqual([
    "node01 nbd-export true",
    "node01 s3-gateway true",
    "node01 controller true",
    "node01 agent true",
    "node02 agent true",
    "node03 agent true",
  ]);
  expect(status.endpoints.filter((e) => !e.up)).toEqual([]);

  const env = await labEnv(dir.path);
  expect(env.PHOTON_SERVER).toBe(state.controllerUrl);
  await waitFor(async () => {
    const out = await runPhoton(["node", "list", "--json"], { env: { PHOTON_SERVER: env.PHOTON_SERVER!, PHOTON_TOKEN: env.PHOTON_TOKEN! } });
    return (JSON.parse(out.stdout) as { name: string; state: string; advertise: string }[]).filter((n) => n.state === "up").map((n) => `${n.name} ${n.advertise}`).sort().join(",");
  }, "three nodes registered").then((nodes) => expect(nodes).toBe(state.nodes.map((n) => `${n.name} ${n.address}:${new URL(n.agentUrl).port}`).join(",")));
  await s3RoundTrip(env);
  // The s3 commands reach the gateway from the same shell, though PHOTON_SERVER names the controller.
  const keys = await runPhoton(["s3", "key", "list", "--json"], { env: { PHOTON_SERVER: env.PHOTON_SERVER!, PHOTON_TOKEN: env.PHOTON_TOKEN!, PHOTON_S3_ADMIN: env.PHOTON_S3_ADMIN! } });
  expect(keys.stderr).toBe("");
  expect((JSON.parse(keys.stdout) as { name: string }[]).map((k) => k.name)).toContain("root");
  await nbdVolume(state, env);

  // The same dir: refused. Another dir on the same ports: refused before any of its services
  // starts, and the running lab is untouched.
  const sameDir = await runPhoton(["lab", "up", "--dir", dir.path, "--network", "loopback", ...ports]);
  expect(sameDir.code).not.toBe(0);
  expect(sameDir.stderr).toContain("already running");
  using other = tempDir("wt-lab-other-");
  await using _cleanupOther = labCleanup(other.path);
  const otherDir = await runPhoton(["lab", "up", "--dir", other.path, "--network", "loopback", "--nodes", "3", ...ports]);
  expect(otherDir.code).not.toBe(0);
  expect(otherDir.stderr).toContain("already in use");
  expect(otherDir.stdout).not.toContain("lab is up");

  // A service killed with SIGKILL is restarted.
  const agent2 = status.services.find((s) => s.node === "node02")!;
  process.kill(agent2.pid, "SIGKILL");
  const restarted = await waitFor(async () => {
    const { code, status } = await labStatus(dir.path);
    const s = status.services.find((x) => x.node === "node02");
    return code === 0 && s?.restarts === 1 && s.pid !== agent2.pid && s.healthy ? s : undefined;
  }, "node02's agent restarted");
  expect(restarted.restarts).toBe(1);
  await lab.waitForLog((l) => l.msg === "exited; restarting" && l.node === "node02" && l.signal === "SIGKILL", "the exit on the lab's log");

  const down = await runPhoton(["lab", "down", "--dir", dir.path]);
  expect(down.code).toBe(0);
  expect(await lab.exited).toBe(0);
  expectNothingLeft(dir.path, { ...state, children: [...state.children, { ...restarted }] });
  const again = await runPhoton(["lab", "down", "--dir", dir.path]);
  expect(again.code).toBe(0);
  expect(again.stdout).toContain("no lab is running");
});

test("a hang-up of lab up's terminal stops the lab and its services", async () => {
  using dir = tempDir("wt-lab-hup-");
  await using _cleanup = labCleanup(dir.path);
  const { lab, state } = await loopbackLab(dir.path, 1);
  await using _lab = lab;
  expect(await lab.stop("SIGHUP")).toBe(0);
  expectNothingLeft(dir.path, state);
});
