import { Gauge, type Registry } from "prom-client";
import type { ReplicatedChunkStore } from "./replicated-chunk-store.ts";
import type { ChunkUpkeep } from "./upkeep.ts";

/**
 * The state of replication on `/metrics`, read when scraped: chunks known to
 * lack copies (the durable repair queue), chunks being repaired, and storage
 * nodes passed over after a failed call. Corrupt copies found are counted by
 * `photon_chunk_failures_total{kind="corrupt"}` (replication-failures.ts).
 */
export function registerReplicationGauges(registry: Registry, store: ReplicatedChunkStore, upkeep: ChunkUpkeep): void {
  new Gauge({
    name: "photon_chunks_under_replicated",
    help: "Chunks known to lack some of their copies, queued for repair (kept across restarts).",
    registers: [registry],
    collect() {
      this.set(store.queue.size);
    },
  });
  new Gauge({
    name: "photon_chunks_repairing",
    help: "Chunks whose missing or damaged copies are being rewritten now.",
    registers: [registry],
    collect() {
      this.set(upkeep.repairing);
    },
  });
  new Gauge({
    name: "photon_chunk_nodes_unhealthy",
    help: "Storage nodes passed over because a call to them failed or missed its deadline recently.",
    registers: [registry],
    collect() {
      this.set(store.client.health.unhealthy(store.nodes).length);
    },
  });
}
