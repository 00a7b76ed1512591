import type { PlacementNode } from "./placement.ts";

/**
 * Where a storage node stands: `up` (heartbeating), `down` (missed its
 * heartbeats, for less than the grace period: still a target, its copies
 * follow when it returns) or `lost` (down longer: its copies are made again
 * elsewhere).
 */
export type StorageNodeState = "up" | "down" | "lost";

/** A storage node as replication sees it; `id` is its admin URL. */
export interface StorageNode extends PlacementNode {
  name: string;
  state: StorageNodeState;
  /** Drained by the operator: it gets no new copies and is emptied onto the others. */
  drained: boolean;
}

/**
 * The storage nodes a ReplicatedChunkStore places copies on and reads them
 * from: a fixed list (`--storage-nodes`) or the controller's registered
 * agents with the storage role (membership-controller.ts).
 */
export interface Membership {
  /** Every node known, whatever its state: readers look for copies on all of them. */
  nodes(): readonly StorageNode[];
}

/** The nodes new copies go to: neither lost nor drained. */
export function placeable(nodes: readonly StorageNode[]): StorageNode[] {
  return nodes.filter((node) => node.state !== "lost" && !node.drained);
}

/** A fixed list of nodes, equally weighted, all taken to be up (`--storage-nodes`). */
export function staticMembership(urls: readonly string[]): Membership {
  const nodes: StorageNode[] = urls.map((url) => ({ id: url, name: url, weight: 1, state: "up", drained: false }));
  return { nodes: () => nodes };
}
