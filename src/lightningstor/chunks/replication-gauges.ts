import { Gauge, type Registry } from "prom-client";
import { repairStatus, type RepairSources } from "./repair-status.ts";

/**
 * The state of replication on `/metrics`, read when scraped from the repair
 * status (repair-status.ts): chunks short of copies, being repaired, copies
 * misplaced and unreferenced, storage nodes by state and those passed over
 * after a failed call. Corrupt copies found are counted by
 * `photon_chunk_failures_total{kind="corrupt"}` (replication-failures.ts).
 */
export function registerReplicationGauges(registry: Registry, sources: RepairSources): void {
  const gauge = (name: string, help: string, value: (status: ReturnType<typeof repairStatus>) => number) =>
    new Gauge({
      name,
      help,
      registers: [registry],
      collect() {
        this.set(value(repairStatus(sources)));
      },
    });
  gauge("photon_chunks_under_replicated", "Chunks known to lack some of their copies: the repair queue (kept across restarts) and chunks waiting for a node that is down.", (s) => s.underReplicated);
  gauge("photon_chunks_repairing", "Chunks whose missing or damaged copies are being rewritten now.", (s) => s.repairing);
  gauge("photon_chunk_nodes_unhealthy", "Storage nodes passed over because a call to them failed or missed its deadline recently.", (s) => s.nodes.filter((n) => !n.healthy).length);
  gauge("photon_chunk_copies_misplaced", "Copies on nodes no longer among their chunk's targets (lost, drained, displaced), not removed yet, as of the last rebalance pass.", (s) => s.misplaced);
  gauge("photon_chunk_copies_unreferenced", "Copies no object references as of the last rebalance pass: garbage collection removes them.", (s) => s.gcPending);
  gauge("photon_chunk_corrupt_found", "Damaged copies or blocks found since the gateway started.", (s) => s.corruptFound);
  new Gauge({
    name: "photon_storage_nodes",
    help: "Storage nodes known to the gateway, by state (up, down, lost) and drained or not.",
    labelNames: ["state", "drained"] as const,
    registers: [registry],
    collect() {
      this.reset();
      for (const node of sources.store.membership.nodes()) this.inc({ state: node.state, drained: String(node.drained) });
    },
  });
}
