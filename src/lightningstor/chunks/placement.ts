/**
 * Rendezvous (highest-random-weight) hashing: every node scores each chunk id,
 * and the chunk's copies go to the best-scoring nodes. Adding or removing a
 * node moves only the chunks whose top R it enters or leaves.
 */

/** A node as placement sees it: its id (the admin URL), a weight (its capacity) and its zone. */
export interface PlacementNode {
  id: string;
  /** Relative share of the chunks it gets first place for (e.g. its disk size); > 0. */
  weight: number;
  /** Failure domain; copies of a chunk go to different zones first. Unset: a zone of its own. */
  zone?: string;
}

const TWO_POW_64 = 2 ** 64;

/**
 * A node's score for a chunk, weighted the usual way (Schindelhauer and
 * Schomaker, "Weighted distributed hash tables"): weight / -ln(u) with u the
 * node's hash of the chunk in (0, 1), so a node's chance of coming first is its
 * share of the total weight. With equal weights the order is the hash order.
 */
function score(node: PlacementNode, id: string): { score: number; hash: bigint } {
  const hash = BigInt(Bun.hash.wyhash(`${node.id}\n${id}`));
  const u = (Number(hash) + 0.5) / TWO_POW_64;
  return { score: node.weight / -Math.log(u), hash };
}

/** Every node, in `id`'s weighted rendezvous order. */
export function rendezvous<T extends PlacementNode>(nodes: readonly T[], id: string): T[] {
  const scored = nodes.map((node) => ({ node, ...score(node, id) }));
  // Ties of the float score (equal weights, hashes equal in their top 53 bits) fall back to the exact hash.
  scored.sort((a, b) => b.score - a.score || (b.hash > a.hash ? 1 : b.hash < a.hash ? -1 : 0));
  return scored.map((s) => s.node);
}

/**
 * The `replicas` nodes a chunk's copies belong on: down its rendezvous order,
 * the first node of each zone not yet used, then (fewer zones than copies) the
 * next nodes in order. Fewer nodes than copies: all of them.
 */
export function placeCopies(nodes: readonly PlacementNode[], id: string, replicas: number): string[] {
  const order = rendezvous(nodes, id);
  const chosen: PlacementNode[] = [];
  const zones = new Set<string>();
  for (const node of order) {
    if (chosen.length === replicas) break;
    const zone = node.zone ?? `\n${node.id}`;
    if (zones.has(zone)) continue;
    zones.add(zone);
    chosen.push(node);
  }
  for (const node of order) {
    if (chosen.length === replicas) break;
    if (!chosen.includes(node)) chosen.push(node);
  }
  return chosen.map((node) => node.id);
}

/** Every node of an equally weighted, zone-less list, in `id`'s rendezvous order (as `--storage-nodes` places). */
export function placement(nodes: readonly string[], id: string): string[] {
  return rendezvous(
    nodes.map((node) => ({ id: node, weight: 1 })),
    id,
  ).map((node) => node.id);
}
