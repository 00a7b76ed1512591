import { newChunkId } from "./chunk-ids.ts";

/** Longest a write is taken to be under way: a 5 GiB PUT (S3's largest) at 64 KiB/s. */
const WRITE_MAX_MS = 24 * 60 * 60 * 1000;

/**
 * The chunk ids a gateway process made, with when: the writes that may still
 * be under way, which garbage collection (gc.ts) and rebalancing must not
 * take for orphans (a PUT can stream for longer than a GC period).
 */
export class IssuedIds {
  private readonly issued = new Map<string, number>();

  /** `owner`: the gateway id the ids name, so that only it ever collects them. */
  constructor(private readonly owner: string | undefined) {}

  /** A new id, remembered as a write under way. */
  next(): string {
    const id = newChunkId(this.owner);
    this.issued.set(id, Date.now());
    return id;
  }

  /**
   * Whether the chunk may belong to a write not committed yet: an id made in
   * the last WRITE_MAX_MS and not yet seen referenced. Forgets the others.
   */
  writing(id: string, isReferenced: (id: string) => boolean): boolean {
    const issuedAt = this.issued.get(id);
    if (issuedAt === undefined) return false;
    if (Date.now() - issuedAt < WRITE_MAX_MS && !isReferenced(id)) return true;
    this.issued.delete(id);
    return false;
  }

  /** Whether a write begun before `time` may still be under way. */
  writingBefore(time: number, isReferenced: (id: string) => boolean): boolean {
    for (const [id, issuedAt] of this.issued) if (issuedAt < time && this.writing(id, isReferenced)) return true;
    return false;
  }

  /** The write was given up, or its object deleted: no longer under way. */
  forget(id: string): void {
    this.issued.delete(id);
  }
}
