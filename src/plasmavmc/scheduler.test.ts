import { describe, expect, test } from "bun:test";
import { pickNode, type CandidateNode } from "./scheduler.ts";

const GiB = 1024 ** 3;
const node = (name: string, extra: Partial<CandidateNode> = {}): CandidateNode => ({
  name,
  roles: ["storage", "compute", "nbd"],
  state: "up",
  scheduling: "active",
  cpus: 2,
  memoryBytes: 8 * GiB,
  ...extra,
});
const small = { cpus: 1, memoryBytes: GiB };

describe("scheduler", () => {
  test("takes the node with the most free memory after what is placed", () => {
    const result = pickNode([node("a"), node("b")], [{ node: "a", cpus: 1, memoryBytes: 2 * GiB }], small, { cpuRatio: 1 });
    expect(result).toEqual({ node: "b" });
  });

  test("a preferred node that fits wins; one that does not fit is passed over", () => {
    const nodes = [node("a"), node("b", { memoryBytes: 16 * GiB })];
    expect(pickNode(nodes, [], small, { cpuRatio: 1, prefer: "a" })).toEqual({ node: "a" });
    expect(pickNode(nodes, [], { cpus: 1, memoryBytes: 12 * GiB }, { cpuRatio: 1, prefer: "a" })).toEqual({ node: "b" });
  });

  test("down, drained and non-compute nodes take nothing", () => {
    const nodes = [node("a", { state: "down" }), node("b", { scheduling: "drained" }), node("c", { roles: ["storage"] })];
    const result = pickNode(nodes, [], small, { cpuRatio: 1 });
    expect(result).toEqual({ error: "no node can take 1 vCPUs and 1.0 GiB of memory: a is down; b is drained; c has no compute role" });
  });

  test("the error names what each node is short of", () => {
    const placed = [{ node: "a", cpus: 2, memoryBytes: 7 * GiB }];
    const result = pickNode([node("a")], placed, { cpus: 1, memoryBytes: 2 * GiB }, { cpuRatio: 1 });
    expect(result).toEqual({ error: "no node can take 1 vCPUs and 2.0 GiB of memory: a has only 0 free vCPUs and 1.0 GiB free memory" });
  });

  test("the CPU ratio lets vCPUs overcommit, memory never", () => {
    const placed = [{ node: "a", cpus: 7, memoryBytes: GiB }];
    expect(pickNode([node("a")], placed, small, { cpuRatio: 4 })).toEqual({ node: "a" });
    expect("error" in pickNode([node("a")], placed, { cpus: 2, memoryBytes: GiB }, { cpuRatio: 4 })).toBe(true);
  });

  test("--to limits the choice to one node, and an unknown one is named", () => {
    expect(pickNode([node("a"), node("b")], [], small, { cpuRatio: 1, only: "b" })).toEqual({ node: "b" });
    expect(pickNode([node("a")], [], small, { cpuRatio: 1, only: "zz" })).toEqual({ error: "no node named zz" });
  });

  test("no nodes at all says so", () => {
    expect(pickNode([], [], small, { cpuRatio: 1 })).toEqual({ error: "no node can take 1 vCPUs and 1.0 GiB of memory: no compute nodes are registered" });
  });
});
