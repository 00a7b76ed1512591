import { readSync, writeSync } from "node:fs";
import { Qcow2FormatError } from "./header.ts";

/** L2 tables kept in memory (64 KiB each with the default cluster size). */
const L2_CACHE_TABLES = 512;

/** One cached L2 table. */
export interface L2Table {
  buf: Buffer;
  dirty: boolean;
}

/**
 * The L2 tables of one image, least recently used evicted first. Dirty
 * tables reach the disk on eviction or {@link writeBack} — each time after
 * `beforeWrite` has made the refcounts and data they rely on durable.
 */
export class L2Cache {
  private readonly tables = new Map<number, L2Table>();

  constructor(
    private readonly fd: number,
    private readonly clusterSize: number,
    /** Makes what a dirty table may point at durable before the table is written. */
    private readonly beforeWrite: () => void,
  ) {}

  /** The table at host offset `offset`, read on a miss; `fileEnd` bounds where a table may be. */
  load(offset: number, fileEnd: number): L2Table {
    let table = this.tables.get(offset);
    if (table) {
      // Most recently used last.
      this.tables.delete(offset);
      this.tables.set(offset, table);
      return table;
    }
    if (offset % this.clusterSize !== 0 || offset + this.clusterSize > fileEnd) {
      throw new Qcow2FormatError(`L2 table at ${offset} is misaligned or beyond the end of the file`);
    }
    const buf = Buffer.alloc(this.clusterSize);
    readSync(this.fd, buf, 0, this.clusterSize, offset);
    table = { buf, dirty: false };
    this.tables.set(offset, table);
    this.evict();
    return table;
  }

  /** A new, all-unallocated table at `offset` (a freshly allocated cluster). */
  create(offset: number): void {
    this.tables.set(offset, { buf: Buffer.alloc(this.clusterSize), dirty: true });
    this.evict();
  }

  /** Writes every dirty table (the caller has called `beforeWrite` and fsyncs after); true when any was. */
  writeBack(): boolean {
    let wrote = false;
    for (const [offset, table] of this.tables) {
      if (!table.dirty) continue;
      writeSync(this.fd, table.buf, 0, this.clusterSize, offset);
      table.dirty = false;
      wrote = true;
    }
    return wrote;
  }

  private evict(): void {
    while (this.tables.size > L2_CACHE_TABLES) {
      const [offset, table] = this.tables.entries().next().value!;
      if (table.dirty) {
        // An L2 table reaches the disk only after the refcounts and data it relies on.
        this.beforeWrite();
        writeSync(this.fd, table.buf, 0, this.clusterSize, offset);
      }
      this.tables.delete(offset);
    }
  }
}
