import { describe, expect, test } from "bun:test";
import { join } from "node:path";
import { privateLoopback, startAgent, startController } from "../helpers/cluster.ts";
import { authed, tempDir, waitFor } from "../helpers/photon.ts";

type Node = { id: string; name: string; state: string; scheduling: string; cpus: number; diskBytes: number; roles: string[] };

async function nodes(c: { url: string; token: string }): Promise<Node[]> {
  const res = await fetch(`${c.url}/v1/nodes`, authed(c.token));
  expect(res.status).toBe(200);
  return ((await res.json()) as { nodes: Node[] }).nodes;
}

async function nodeState(c: { url: string; token: string }, name: string): Promise<string | undefined> {
  return (await nodes(c)).find((n) => n.name === name)?.state;
}

describe("node lifecycle", () => {
  test("an agent registers with its capacity, goes down when it stops and up when it returns", async () => {
    using dir = tempDir();
    const c = await startController(join(dir.path, "ctl"));
    await using controller = c.proc;
    let agent = await startAgent(c, join(dir.path, "agent"), "node02");
    const registered = await waitFor(async () => (await nodes(c)).find((n) => n.name === "node02"), "registration");
    expect(registered.state).toBe("up");
    expect(registered.cpus).toBeGreaterThan(0);
    expect(registered.diskBytes).toBeGreaterThan(0);
    expect(registered.roles).toEqual(["storage", "compute", "nbd"]);
    const firstBeat = await waitFor(async () => {
      const res = await fetch(`${c.url}/v1/nodes/node02`, authed(c.token));
      const body = (await res.json()) as { lastHeartbeatAt: string; registeredAt: string };
      return body.lastHeartbeatAt !== body.registeredAt && body;
    }, "a heartbeat after registration");
    expect(Date.parse(firstBeat.lastHeartbeatAt)).toBeGreaterThan(Date.parse(firstBeat.registeredAt));

    expect(await agent.stop()).toBe(0);
    await waitFor(async () => (await nodeState(c, "node02")) === "down", "node marked down");

    agent = await startAgent(c, join(dir.path, "agent"), "node02");
    await waitFor(async () => (await nodeState(c, "node02")) === "up", "node up again");
    const all = await nodes(c);
    expect(all.filter((n) => n.name === "node02").map((n) => n.id)).toEqual([registered.id]);
    await agent.stop();
    expect(await controller.stop()).toBe(0);
  });

  test("controller state survives a restart and agents keep heartbeating across it", async () => {
    using dir = tempDir();
    let c = await startController(join(dir.path, "ctl"));
    const port = Number(new URL(c.url).port); // the restarted controller comes back where its agents look for it
    await using firstController = c.proc;
    await using agent = await startAgent(c, join(dir.path, "agent"), "node03");
    const before = await waitFor(async () => (await nodes(c)).find((n) => n.name === "node03"), "registration");
    const drained = await fetch(`${c.url}/v1/nodes/node03/drain`, authed(c.token, { method: "POST" }));
    expect(drained.status).toBe(200);

    expect(await firstController.stop()).toBe(0);
    c = await startController(join(dir.path, "ctl"), [], port);
    await using secondController = c.proc;
    const after = (await nodes(c)).find((n) => n.name === "node03");
    expect(after?.id).toBe(before.id);
    expect(after?.scheduling).toBe("drained");
    const restartedAt = Date.now();
    await waitFor(async () => {
      const res = await fetch(`${c.url}/v1/nodes/node03`, authed(c.token));
      return Date.parse(((await res.json()) as { lastHeartbeatAt: string }).lastHeartbeatAt) >= restartedAt;
    }, "heartbeat after the controller restart");
    expect(await secondController.stop()).toBe(0);
    void agent;
  });

  test("an agent started before its controller retries until it can register", async () => {
    using dir = tempDir();
    const address = privateLoopback();
    const pending = { url: `http://${address}`, token: "t0ken-for-this-test" };
    await Bun.write(join(dir.path, "ctl", "cluster-token"), pending.token + "\n");
    await using agent = await startAgent(pending, join(dir.path, "agent"), "node04");
    await agent.waitForLog((l) => l.msg === "controller unreachable; retrying", "retry warning");
    const c = await startController(join(dir.path, "ctl"), [], address);
    await using controller = c.proc;
    await waitFor(async () => (await nodeState(c, "node04")) === "up", "late registration");
    expect(await controller.stop()).toBe(0);
  });

  test("a removed node registers again while its agent runs", async () => {
    using dir = tempDir();
    const c = await startController(join(dir.path, "ctl"));
    await using controller = c.proc;
    await using agent = await startAgent(c, join(dir.path, "agent"), "node05");
    const first = await waitFor(async () => (await nodes(c)).find((n) => n.name === "node05"), "registration");
    const removed = await fetch(`${c.url}/v1/nodes/node05`, authed(c.token, { method: "DELETE" }));
    expect(removed.status).toBe(204);
    const again = await waitFor(async () => (await nodes(c)).find((n) => n.name === "node05"), "re-registration");
    expect(again.id).not.toBe(first.id);
    await agent.waitForLog((l) => l.msg.includes("registering again"), "re-registration log");
  });
});
