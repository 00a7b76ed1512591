import { describe, expect, test } from "bun:test";
import { placement } from "./placement.ts";

const nodes = ["http://10.0.0.1:7071", "http://10.0.0.2:7071", "http://10.0.0.3:7071", "http://10.0.0.4:7071"];
const ids = Array.from({ length: 2000 }, (_, i) => `abcd${String(i).padStart(6, "0")}`);

describe("placement (rendezvous hashing)", () => {
  test("orders every node once, the same way each time and whatever order the nodes are listed in", () => {
    for (const id of ids.slice(0, 50)) {
      const order = placement(nodes, id);
      expect([...order].sort()).toEqual([...nodes].sort());
      expect(placement(nodes, id)).toEqual(order);
      expect(placement([...nodes].reverse(), id)).toEqual(order);
    }
  });

  test("spreads chunks evenly: each node comes first for about a quarter of them", () => {
    const firsts = new Map<string, number>();
    for (const id of ids) firsts.set(placement(nodes, id)[0]!, (firsts.get(placement(nodes, id)[0]!) ?? 0) + 1);
    for (const node of nodes) expect(Math.abs((firsts.get(node) ?? 0) - ids.length / 4)).toBeLessThan(ids.length / 10);
  });

  test("removing a node moves only the copies it held: the others keep their relative order", () => {
    const gone = nodes[2]!;
    const rest = nodes.filter((n) => n !== gone);
    for (const id of ids.slice(0, 200)) expect(placement(rest, id)).toEqual(placement(nodes, id).filter((n) => n !== gone));
  });

  test("adding a node takes a chunk's first place only where it scores best", () => {
    const added = "http://10.0.0.5:7071";
    let moved = 0;
    for (const id of ids) {
      const before = placement(nodes, id);
      const after = placement([...nodes, added], id);
      expect(after.filter((n) => n !== added)).toEqual(before);
      if (after[0] === added) moved++;
    }
    expect(Math.abs(moved - ids.length / 5)).toBeLessThan(ids.length / 10);
  });

  test("no nodes, no placement", () => {
    expect(placement([], "abcd000001")).toEqual([]);
  });
});
