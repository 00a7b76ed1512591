import { chunkOwner } from "./chunk-ids.ts";
import type { ReplicatedChunkStore } from "./replicated-chunk-store.ts";

/** What a garbage collection round needs of its gateway. */
export interface CollectOptions {
  /** The gateway's id: only copies whose id names it are ever deleted. */
  owner: string;
  /** Whether the gateway's metadata references a chunk (an object's or a part's). */
  isReferenced: (id: string) => boolean;
  /** Copies younger than this are kept: their object or part may not be committed yet. */
  minAgeMs: number;
}

/** What a round found on the nodes that answered. */
export interface CollectResult {
  /** Copies deleted. */
  removed: number;
  /** Unreferenced copies written before chunk ids named their gateway: never deleted. */
  unowned: number;
  /** Unreferenced copies of this gateway kept for being younger than `minAgeMs`. */
  young: number;
}

/**
 * Garbage collection over storage nodes shared by several gateways. Each
 * gateway keeps its references in its own database, which no other gateway
 * sees, so a copy is deletable only by the gateway that wrote it: its id
 * names that gateway (chunk-ids.ts). On every node that answers, the copies
 * this gateway wrote, that its metadata does not reference and that are at
 * least `minAgeMs` old go — left by uploads that failed or crashed, or by
 * deletes a node missed while down — unless this process made the id for a
 * write that may still be under way (a PUT slower than a GC period). Copies of other gateways are theirs to
 * collect; copies whose id names no gateway (written before ids had owners)
 * are kept, since any gateway of the cluster may reference them.
 */
export async function collectGarbage(store: ReplicatedChunkStore, options: CollectOptions): Promise<CollectResult> {
  const result: CollectResult = { removed: 0, unowned: 0, young: 0 };
  for (const node of store.nodes) {
    try {
      const cutoff = Date.now() - options.minAgeMs;
      for (const { id, writtenAt } of await store.client.list(node)) {
        // `writing` first: it forgets the ids it finds referenced.
        if (store.writing(id, options.isReferenced) || options.isReferenced(id)) continue;
        const owner = chunkOwner(id);
        if (owner !== undefined && owner !== options.owner) continue;
        if (writtenAt.getTime() > cutoff) {
          if (owner !== undefined) result.young++;
        } else if (owner === undefined) result.unowned++;
        else if (await store.client.delete(node, id)) result.removed++;
      }
    } catch (err) {
      store.failures.report("collect", "could not collect garbage on a storage node; next time", { node }, err);
    }
  }
  return result;
}
