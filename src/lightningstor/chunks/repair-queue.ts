/** Why a chunk is queued for repair. */
export type RepairReason =
  /** Stored with fewer copies than R (a node was down or hung). */
  | "short"
  /** A node of its placement was found without a copy (anti-entropy, a read). */
  | "missing"
  /** A copy was found damaged. */
  | "damaged";

/**
 * Chunks known to lack some of their R copies, for upkeep to complete. The
 * gateway keeps it in its SQLite database (metadata.ts), so a restart forgets
 * none; `MemoryRepairQueue` serves tests and tools.
 */
export interface RepairQueue {
  add(id: string, reason: RepairReason): void;
  remove(id: string): void;
  has(id: string): boolean;
  /** The queued chunk ids, oldest first. */
  ids(): string[];
  readonly size: number;
}

/** A RepairQueue in memory: gone with the process. */
export class MemoryRepairQueue implements RepairQueue {
  private readonly queued = new Map<string, RepairReason>();

  add(id: string, reason: RepairReason): void {
    if (!this.queued.has(id)) this.queued.set(id, reason);
  }

  remove(id: string): void {
    this.queued.delete(id);
  }

  has(id: string): boolean {
    return this.queued.has(id);
  }

  ids(): string[] {
    return [...this.queued.keys()];
  }

  get size(): number {
    return this.queued.size;
  }
}
