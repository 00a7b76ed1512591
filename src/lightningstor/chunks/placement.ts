/**
 * Rendezvous (highest-random-weight) hashing: every node scores each chunk id,
 * and the chunk's copies go to the best-scoring nodes. Adding or removing a
 * node moves only the chunks whose top R it enters or leaves.
 */

/** Every node, in `id`'s rendezvous order: the first R hold its copies, the rest are read after them. */
export function placement(nodes: readonly string[], id: string): string[] {
  const scored = nodes.map((node) => ({ node, score: Bun.hash.wyhash(`${node}\n${id}`) }));
  scored.sort((a, b) => (b.score > a.score ? 1 : b.score < a.score ? -1 : 0));
  return scored.map((s) => s.node);
}
