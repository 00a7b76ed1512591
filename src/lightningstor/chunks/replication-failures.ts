import { Counter, Registry } from "prom-client";
import type { Logger } from "../../util/log.ts";

/** What went wrong with a chunk copy or a storage node. */
export type ReplicationFailure =
  /** A node did not answer, or answered outside the chunk API. */
  | "unreachable"
  /** A copy did not match its CRC32. */
  | "corrupt"
  /** No intact copy could be read to complete or repair a chunk. */
  | "unreadable"
  /** A missing or damaged copy could not be rewritten. */
  | "repair"
  /** A copy that should go could not be deleted (it stays as garbage for the collection). */
  | "delete"
  /** Garbage collection could not list or clean a node. */
  | "collect";

/** Distinct failures remembered as logged; past this, the memory starts over (and they are logged again). */
const REMEMBERED = 10_000;

/**
 * Where replication reports what failed: each failure is counted on
 * `/metrics` (`photon_chunk_failures_total{kind,node}`) and logged once per
 * kind, node and chunk, so a chunk retried every second does not flood the log
 * (STYLE.md, guideline 13).
 */
export class ReplicationFailures {
  private readonly count: Counter<"kind" | "node">;
  private readonly logged = new Set<string>();
  private readonly totals = new Map<ReplicationFailure, number>();

  constructor(
    private readonly log: Logger,
    registry: Registry = new Registry(),
  ) {
    this.count = new Counter({
      name: "photon_chunk_failures_total",
      help: "Failures reading, writing, repairing or collecting chunk copies on storage nodes, by kind and node.",
      labelNames: ["kind", "node"] as const,
      registers: [registry],
    });
  }

  /** Counts a failure and logs it, unless this kind already was for this node and chunk. */
  report(kind: ReplicationFailure, message: string, where: { node?: string; chunk?: string }, error?: unknown): void {
    this.count.inc({ kind, node: where.node ?? "" });
    this.totals.set(kind, this.total(kind) + 1);
    const key = `${kind} ${where.node ?? ""} ${where.chunk ?? ""}`;
    if (this.logged.has(key)) return;
    if (this.logged.size >= REMEMBERED) this.logged.clear();
    this.logged.add(key);
    this.log.warn(message, { ...where, ...(error === undefined ? {} : { error: error instanceof Error ? error.message : String(error) }) });
  }

  /** How many failures of `kind` were reported since start (`photon s3 repair status`). */
  total(kind: ReplicationFailure): number {
    return this.totals.get(kind) ?? 0;
  }

  /** The chunk is whole again: its next failure is logged afresh. */
  resolved(chunk: string): void {
    for (const key of this.logged) if (key.endsWith(` ${chunk}`)) this.logged.delete(key);
  }
}
