import { describe, expect, test } from "bun:test";
import { placeCopies, placement, rendezvous, type PlacementNode } from "./placement.ts";

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

  test("places as the unweighted hash order did, so chunks stored from a --storage-nodes list stay where readers look first", () => {
    const hashOrder = (id: string) =>
      nodes
        .map((node) => ({ node, hash: BigInt(Bun.hash.wyhash(`${node}\n${id}`)) }))
        .sort((a, b) => (b.hash > a.hash ? 1 : b.hash < a.hash ? -1 : 0))
        .map((s) => s.node);
    for (const id of ids) expect(placement(nodes, id)).toEqual(hashOrder(id));
  });
});

describe("placement by capacity and zone", () => {
  const weighted = (weights: number[], zones: (string | undefined)[] = []): PlacementNode[] =>
    weights.map((weight, i) => ({ id: `http://10.0.1.${i + 1}:7071`, weight, ...(zones[i] === undefined ? {} : { zone: zones[i] }) }));

  test("a node with twice the capacity comes first for about twice as many chunks", () => {
    const list = weighted([2, 1, 1]);
    const firsts = new Map<string, number>();
    for (const id of ids) {
      const first = rendezvous(list, id)[0]!.id;
      firsts.set(first, (firsts.get(first) ?? 0) + 1);
    }
    expect(Math.abs((firsts.get(list[0]!.id) ?? 0) - ids.length / 2)).toBeLessThan(ids.length / 12);
    expect(Math.abs((firsts.get(list[1]!.id) ?? 0) - ids.length / 4)).toBeLessThan(ids.length / 12);
  });

  test("copies go to different zones while there are zones left, then to the next nodes in order", () => {
    const zones = ["a", "a", "a", "b", "b", "c"];
    const list = weighted([1, 1, 1, 1, 1, 1], zones);
    const zoneOf = (id: string) => zones[list.findIndex((n) => n.id === id)];
    for (const id of ids.slice(0, 300)) {
      const three = placeCopies(list, id, 3);
      expect(new Set(three.map(zoneOf)).size).toBe(3);
      const five = placeCopies(list, id, 5);
      expect(new Set(five).size).toBe(5);
      expect(five.slice(0, 3)).toEqual(three);
    }
  });

  test("without zones the copies are the first R of the rendezvous order; fewer nodes than R: all of them", () => {
    const list = weighted([1, 3, 2, 1]);
    for (const id of ids.slice(0, 100)) expect(placeCopies(list, id, 3)).toEqual(rendezvous(list, id).slice(0, 3).map((n) => n.id));
    expect(placeCopies(list.slice(0, 2), "abcd000001", 3).sort()).toEqual(list.slice(0, 2).map((n) => n.id).sort());
  });

  test("two zones and three copies: one zone holds two, never all three", () => {
    const zones = ["a", "a", "a", "b", "b", "b"];
    const list = weighted([1, 1, 1, 1, 1, 1], zones);
    for (const id of ids.slice(0, 300)) {
      const counts = placeCopies(list, id, 3).map((n) => zones[list.findIndex((l) => l.id === n)]);
      expect(new Set(counts).size).toBe(2);
    }
  });
});
