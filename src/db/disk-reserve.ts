import { closeSync, fsyncSync, ftruncateSync, openSync, statSync, truncateSync, writeSync } from "node:fs";

/** Bytes held back beside each database: a delete's pages fit many times over. */
export const RESERVE_BYTES = 4 * 1024 * 1024;
/** What a delete that finds the disk full gives up at a time. */
const SLICE = 1024 * 1024;
const ZEROS = Buffer.alloc(SLICE);

/** Whether an error says the disk (or the quota) is full: ENOSPC, EDQUOT or SQLite's SQLITE_FULL. */
export function isDiskFull(err: unknown): boolean {
  const code = (err as { code?: unknown } | undefined)?.code;
  return code === "ENOSPC" || code === "EDQUOT" || code === "SQLITE_FULL";
}

/**
 * Space held back on a database's filesystem so that deletes commit on a full
 * disk: SQLite needs free pages (its WAL grows) even to delete a row, and a
 * delete is how an operator frees space. The reserve is a file of zeros
 * (written, not sparse, so its blocks are really taken); `freeing` gives up a
 * slice of it at a time when a delete finds the disk full, and writes wait for
 * `ensure` to have it whole again, so new data never takes the last of the space.
 */
export class DiskReserve {
  private size: number;

  constructor(
    private readonly path: string,
    private readonly bytes = RESERVE_BYTES,
  ) {
    this.size = Math.min(statSync(path, { throwIfNoEntry: false })?.size ?? 0, bytes);
  }

  /** Makes the reserve whole if it is not; false when there is no room for it (the disk is full). */
  ensure(): boolean {
    if (this.size >= this.bytes) return true;
    const fd = openSync(this.path, "a", 0o600);
    try {
      while (this.size < this.bytes) this.size += writeSync(fd, ZEROS, 0, Math.min(ZEROS.length, this.bytes - this.size));
      fsyncSync(fd);
    } catch (err) {
      if (!isDiskFull(err)) throw err;
      this.size = Math.floor(this.size / SLICE) * SLICE; // what a short write left is cut off again
      ftruncateSync(fd, this.size);
    } finally {
      closeSync(fd);
    }
    return this.size >= this.bytes;
  }

  /**
   * Runs `fn`, a change that frees space (a delete); while the disk is too
   * full for it to commit, gives up a slice of the reserve and runs it again.
   */
  freeing<T>(fn: () => T): T {
    for (;;) {
      try {
        return fn();
      } catch (err) {
        this.giveUpSlice(err);
      }
    }
  }

  /** `freeing` for a change that completes asynchronously. */
  async freeingAsync<T>(fn: () => Promise<T>): Promise<T> {
    for (;;) {
      try {
        return await fn();
      } catch (err) {
        this.giveUpSlice(err);
      }
    }
  }

  /** Gives up a slice of the reserve for a change that `err` says found the disk full; rethrows anything else, or when nothing is left. */
  private giveUpSlice(err: unknown): void {
    if (!isDiskFull(err) || this.size === 0) throw err;
    this.size = Math.max(0, this.size - SLICE);
    truncateSync(this.path, this.size);
  }
}
