import { expect, test } from "bun:test";
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { startPhoton, tempDir, waitFor, type PhotonProcess } from "../helpers/photon.ts";

/** The status of `GET /v1/nodes` with `token`. */
const statusWith = (url: string, token: string) => fetch(`${url}/v1/nodes`, { headers: { authorization: `Bearer ${token}` } }).then((r) => r.status);

/** The node's last heartbeat as the controller has it, asked with `token`. */
async function lastHeartbeat(url: string, token: string): Promise<string> {
  const response = await fetch(`${url}/v1/nodes/rot1`, { headers: { authorization: `Bearer ${token}` } });
  return ((await response.json()) as { lastHeartbeatAt: string }).lastHeartbeatAt;
}

/** Writes `lines` to every token file, then SIGHUPs each process and waits for it to say so. */
async function rotateStep(files: string[], lines: string[], processes: PhotonProcess[]): Promise<void> {
  for (const file of files) writeFileSync(file, lines.join("\n") + "\n", { mode: 0o600 });
  for (const proc of processes) {
    const seen = proc.lines.length;
    proc.proc.kill("SIGHUP");
    await proc.waitForLog((l) => proc.lines.indexOf(l) >= seen && l.msg === "SIGHUP: reread the cluster token file" && l.tokens === lines.length, "the token file reread");
  }
}

test("the cluster token is rotated without a restart: old+new accepted, then new sent, then old refused, heartbeats never interrupted", async () => {
  using dir = tempDir();
  const [old, next] = ["old-" + crypto.randomUUID(), "new-" + crypto.randomUUID()];
  const files = ["c", "a"].map((node) => {
    mkdirSync(join(dir.path, node));
    return join(dir.path, node, "cluster-token");
  });
  for (const file of files) writeFileSync(file, `${old}\n`, { mode: 0o600 });
  await using controller = startPhoton(["controller", "--data-dir", join(dir.path, "c"), "--listen", "127.0.0.1:0", "--node-timeout", "2000"]);
  const url = await controller.url();
  await using agent = startPhoton(["agent", "--data-dir", join(dir.path, "a"), "--listen", "127.0.0.1:0", "--controller", url, "--name", "rot1", "--roles", "storage", "--heartbeat-interval", "100"]);
  await waitFor(async () => (await statusWith(url, old)) === 200 && (await lastHeartbeat(url, old)), "the agent registered with the old token");
  expect(await statusWith(url, next)).toBe(401);

  // 1. Every node accepts both; the old one is still sent.
  await rotateStep(files, [old, next], [controller, agent]);
  expect([await statusWith(url, old), await statusWith(url, next)]).toEqual([200, 200]);
  // 2. Every node sends the new one.
  await rotateStep(files, [next, old], [controller, agent]);
  // 3. The old one goes.
  await rotateStep(files, [next], [controller, agent]);
  expect([await statusWith(url, old), await statusWith(url, next)]).toEqual([401, 200]);

  // The agent's heartbeats (with the new token) still arrive, and none was refused on the way.
  const after = await lastHeartbeat(url, next);
  await waitFor(async () => (await lastHeartbeat(url, next)) > after, "a heartbeat after the rotation");
  expect(agent.lines.filter((l) => l.level === "warn" || l.level === "error")).toEqual([]);
  expect(controller.lines.filter((l) => l.msg === "request" && l.status === 401 && String(l.path).includes("heartbeat"))).toEqual([]);
});
