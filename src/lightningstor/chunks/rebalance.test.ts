import { afterEach, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Server } from "bun";
import { waitFor } from "../../../test/helpers/wait-for.ts";
import { createAdminApp } from "../../http/admin-app.ts";
import { createHttpMetrics } from "../../http/metrics.ts";
import { createLogger } from "../../util/log.ts";
import { chunkRoutes } from "./chunk-routes.ts";
import { LocalChunkStore } from "./local-chunk-store.ts";
import type { Membership, StorageNode, StorageNodeState } from "./membership.ts";
import { ChunkRebalance } from "./rebalance.ts";
import { RepairThrottle } from "./repair-throttle.ts";
import { ReplicatedChunkStore } from "./replicated-chunk-store.ts";

const quiet = createLogger({ level: "error" });
const token = "rebalance-test-token";
const cleanups: (() => void)[] = [];
afterEach(() => {
  for (const cleanup of cleanups.splice(0)) cleanup();
});

/** Four storage nodes in this process (the agent's real chunk API), a membership the test changes, R = 3, W = 2. */
function cluster() {
  const dir = mkdtempSync(join(tmpdir(), "rebalance-"));
  const nodes = [1, 2, 3, 4].map((n) => {
    const local = new LocalChunkStore(join(dir, `node${n}`));
    const app = createAdminApp({ token, log: quiet, metrics: createHttpMetrics() });
    app.route("/v1/chunks", chunkRoutes(local));
    const server: Server<undefined> = Bun.serve({ hostname: "127.0.0.1", port: 0, fetch: app.fetch });
    cleanups.push(() => server.stop(true));
    return { local, server, node: { id: `http://127.0.0.1:${server.port}`, name: `node${n}`, weight: 1, state: "up", drained: false } as StorageNode };
  });
  cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
  const membership: Membership = { nodes: () => nodes.map((n) => n.node) };
  const store = new ReplicatedChunkStore({ membership, replicas: 3, writeQuorum: 2, token, deadlines: { answerMs: 2000, progressMs: 2000, requestMs: 2000 } }, quiet);
  const referenced = new Set<string>();
  const rebalance = new ChunkRebalance(store, quiet, { referenced: async () => referenced, throttle: new RepairThrottle(2 ** 30) });
  /** Puts `count` chunks and waits for their third copies. */
  const put = async (count: number) => {
    for (let i = 0; i < count; i++) {
      const id = `bbbb${String(referenced.size).padStart(6, "0")}`;
      await store.put(id, Buffer.from(`chunk ${id} `.repeat(100)));
      referenced.add(id);
      await waitFor(() => holders(id).length === 3, `the third copy of ${id}`);
    }
  };
  function holders(id: string): string[] {
    return nodes.filter((n) => n.local.list().some((c) => c.id === id)).map((n) => n.node.name);
  }
  const stop = (i: number, state: StorageNodeState) => {
    nodes[i]!.server.stop(true);
    nodes[i]!.node = { ...nodes[i]!.node, state };
  };
  return { nodes, store, rebalance, referenced, put, holders, stop };
}

describe("a rebalance pass", () => {
  test("a node down within its grace keeps its place: nothing is copied, its chunks wait; lost, they get three copies on the others", async () => {
    const { nodes, store, rebalance, referenced, put, holders, stop } = cluster();
    await put(16);
    expect((await rebalance.pass()).copied).toBe(0);
    const onFirst = [...referenced].filter((id) => holders(id).includes("node1"));
    expect(onFirst.length).toBeGreaterThan(0);
    stop(0, "down");
    const waiting = await rebalance.pass();
    expect(waiting).toMatchObject({ chunks: 16, underReplicated: onFirst.length, copied: 0, removed: 0, unreadable: 0 });
    // Waiting, or counted by the repair queue (a put whose third copy missed its deadline on a loaded host).
    expect(waiting.waiting + onFirst.filter((id) => store.queue.has(id)).length).toBe(onFirst.length);

    nodes[0]!.node = { ...nodes[0]!.node, state: "lost" };
    const healed = await rebalance.pass();
    expect(healed).toMatchObject({ underReplicated: onFirst.length, waiting: 0, copied: onFirst.length, unreadable: 0 });
    for (const id of referenced) expect(holders(id).filter((n) => n !== "node1").length).toBe(3);
    expect(await rebalance.pass()).toMatchObject({ underReplicated: 0, copied: 0, misplaced: 0 });
  });

  test("a drained node is emptied only once every target holds a copy; the copies elsewhere are counted misplaced until then", async () => {
    const { nodes, rebalance, referenced, put, holders } = cluster();
    await put(16);
    const onSecond = [...referenced].filter((id) => holders(id).includes("node2"));
    nodes[1]!.node = { ...nodes[1]!.node, drained: true };
    const pass = await rebalance.pass();
    expect(pass).toMatchObject({ copied: onSecond.length, misplaced: onSecond.length, removed: onSecond.length });
    expect(nodes[1]!.local.list()).toEqual([]);
    for (const id of referenced) expect(holders(id).length).toBe(3);
  });

  test("a copy no node that answered holds is reported unreadable, and nothing else is touched", async () => {
    const { rebalance, referenced, put } = cluster();
    await put(2);
    referenced.add("bbbbffffff");
    expect(await rebalance.pass()).toMatchObject({ chunks: 3, unreadable: 1, copied: 0, removed: 0 });
  });

  test("a write placed on a node before its drain, committed after the pass looked, is moved off it by the pass that follows", async () => {
    const { nodes, store, referenced, holders } = cluster();
    const drained = nodes[3]!;
    let id = store.newId();
    while (!store.targets(id).includes(drained.node.id)) id = store.newId();
    await store.put(id, Buffer.from("placed before the drain ".repeat(100)));
    await waitFor(() => holders(id).length === 3, "three copies");
    expect(holders(id)).toContain(drained.node.name);
    // The drain is heard before the object commits: the pass it triggers does not see the chunk referenced.
    drained.node = { ...drained.node, drained: true };
    const rebalance = new ChunkRebalance(store, quiet, { referenced: async () => referenced, throttle: new RepairThrottle(2 ** 30), retryMs: 50 });
    const abort = new AbortController();
    cleanups.push(() => abort.abort());
    void rebalance.run(abort.signal);
    expect(await rebalance.trigger()).toMatchObject({ chunks: 0, unreferenced: 3 });
    referenced.add(id);
    await waitFor(() => holders(id).length === 3 && !holders(id).includes(drained.node.name), "the copy moved off the drained node");
  });
});
