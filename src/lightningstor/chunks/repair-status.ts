import type { ChunkRebalance, RebalanceStats } from "./rebalance.ts";
import type { ReplicatedChunkStore } from "./replicated-chunk-store.ts";
import type { StorageNode } from "./membership.ts";
import type { ChunkUpkeep } from "./upkeep.ts";

/** Replication's health as `photon s3 repair status` shows it and `/metrics` counts it. */
export interface RepairStatus {
  replicas: number;
  /** The storage nodes known, with whether a call to them failed recently. */
  nodes: (Pick<StorageNode, "name" | "id" | "state" | "drained" | "zone" | "weight"> & { healthy: boolean })[];
  /** Chunks short of R copies: the durable repair queue plus those whose copy waits for a node that is down. */
  underReplicated: number;
  /** Chunks in the durable repair queue. */
  queued: number;
  /** Chunks being completed now. */
  repairing: number;
  /** Damaged copies (or blocks) found since the gateway started. */
  corruptFound: number;
  /** Copies no object references, seen by the last pass: garbage collection removes them. */
  gcPending: number;
  /** Copies on nodes that are no longer their chunk's targets, not removed yet (last pass). */
  misplaced: number;
  /** Bytes a second repairs may write. */
  repairBytesPerSecond: number;
  /** The pass running now, and the last one finished. */
  pass: { current?: RebalanceStats; last?: RebalanceStats };
}

/** What the repair status is read from. */
export interface RepairSources {
  store: ReplicatedChunkStore;
  upkeep: ChunkUpkeep;
  rebalance: ChunkRebalance;
}

/** The status now. */
export function repairStatus({ store, upkeep, rebalance }: RepairSources): RepairStatus {
  const { last, current } = rebalance;
  return {
    replicas: store.replicas,
    nodes: store.membership.nodes().map(({ name, id, state, drained, zone, weight }) => ({ name, id, state, drained, ...(zone ? { zone } : {}), weight, healthy: store.client.health.healthy(id) })),
    underReplicated: store.queue.size + (last?.waiting ?? 0),
    queued: store.queue.size,
    repairing: upkeep.repairing,
    corruptFound: store.failures.total("corrupt"),
    gcPending: last?.unreferenced ?? 0,
    misplaced: last ? last.misplaced - last.removed : 0,
    repairBytesPerSecond: upkeep.throttle.bytesPerSecond,
    pass: { ...(current ? { current } : {}), ...(last ? { last } : {}) },
  };
}
