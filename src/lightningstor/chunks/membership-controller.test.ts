import { describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createLogger } from "../../util/log.ts";
import { ControllerMembership, storageNodes, type RegisteredNode } from "./membership-controller.ts";

const GIB = 2 ** 30;
const now = Date.parse("2026-01-01T12:00:00Z");
const ago = (ms: number) => new Date(now - ms).toISOString();
const node = (name: string, fields: Partial<RegisteredNode> = {}): RegisteredNode => ({
  name,
  advertise: `10.0.0.${name.slice(-1)}:7071`,
  roles: ["storage"],
  state: "up",
  scheduling: "active",
  zone: null,
  diskBytes: 100 * GIB,
  lastHeartbeatAt: ago(1000),
  ...fields,
});

describe("storage nodes from the controller's node list", () => {
  test("only agents with the storage role, by their advertised address, weighted by disk size, with their zone", () => {
    const nodes = storageNodes([node("node1", { zone: "rack-a" }), node("node2", { roles: ["compute"] }), node("node3", { diskBytes: 200 * GIB, advertise: "http://10.0.0.3:7071/" })], now, 60_000);
    expect(nodes).toEqual([
      { id: "http://10.0.0.1:7071", name: "node1", weight: 100, zone: "rack-a", state: "up", drained: false },
      { id: "http://10.0.0.3:7071", name: "node3", weight: 200, state: "up", drained: false },
    ]);
  });

  test("a node down for less than the grace is down, past it lost; drained is kept apart from the state", () => {
    const nodes = storageNodes(
      [node("node1", { state: "down", lastHeartbeatAt: ago(30_000) }), node("node2", { state: "down", lastHeartbeatAt: ago(90_000) }), node("node3", { scheduling: "drained" })],
      now,
      60_000,
    );
    expect(nodes.map((n) => [n.name, n.state, n.drained])).toEqual([
      ["node1", "down", false],
      ["node2", "lost", false],
      ["node3", "up", true],
    ]);
  });
});

describe("ControllerMembership", () => {
  test("tells its listeners what changed, keeps the last view while the controller does not answer", async () => {
    let answer: RegisteredNode[] | Error = [node("node1"), node("node2")];
    const membership = new ControllerMembership({ list: async () => (answer instanceof Error ? Promise.reject(answer) : answer), graceMs: 60_000, log: createLogger({ level: "error" }) });
    const seen: string[][] = [];
    membership.onChange((changes) => seen.push(changes));
    expect(await membership.refresh()).toBe(true);
    expect(membership.nodes().map((n) => n.name)).toEqual(["node1", "node2"]);
    answer = [node("node1", { scheduling: "drained" }), node("node3", { state: "down", lastHeartbeatAt: new Date().toISOString() })];
    expect(await membership.refresh()).toBe(true);
    expect(await membership.refresh()).toBe(true); // nothing changed: no call
    answer = new Error("connection refused");
    expect(await membership.refresh()).toBe(false);
    expect(membership.nodes().map((n) => n.name)).toEqual(["node1", "node3"]);
    expect(seen).toEqual([["node1 joined (up)", "node2 joined (up)"], ["node1 is drained", "node3 joined (down)", "node2 was removed"]]);
  });

  test("a gateway started while the controller is away uses the nodes it last saw", async () => {
    const dir = mkdtempSync(join(tmpdir(), "photon-membership-"));
    try {
      const cachePath = join(dir, "storage-nodes.json");
      const quiet = createLogger({ level: "error" });
      const first = new ControllerMembership({ list: async () => [node("node1"), node("node2", { zone: "b" })], graceMs: 60_000, cachePath, log: quiet });
      await first.refresh();
      const restarted = new ControllerMembership({ list: () => Promise.reject(new Error("connection refused")), graceMs: 60_000, cachePath, log: quiet });
      expect(await restarted.refresh()).toBe(false);
      expect(restarted.nodes()).toEqual(first.nodes());
      const fresh = new ControllerMembership({ list: () => Promise.reject(new Error("connection refused")), graceMs: 60_000, cachePath: join(dir, "none.json"), log: quiet });
      await fresh.refresh();
      expect(fresh.nodes()).toEqual([]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
