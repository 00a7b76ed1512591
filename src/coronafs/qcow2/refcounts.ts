import { readSync, writeSync } from "node:fs";
import { Qcow2FormatError } from "./header.ts";

/** A cached refcount block. */
interface Block {
  buf: Buffer;
  dirty: boolean;
}

/**
 * The refcount table and blocks of one image (qcow2.txt "Host cluster
 * management"). Blocks are cached and written back only by {@link writeBack},
 * which the image calls first in a flush: refcounts reach the disk before any
 * L2 entry that relies on them (a crash can then only leak clusters).
 */
export class Refcounts {
  private readonly blocks = new Map<number, Block>();
  private readonly bits: number;
  private readonly entriesPerBlock: number;
  private tableDirty = false;

  constructor(
    private readonly fd: number,
    private readonly clusterSize: number,
    refcountOrder: number,
    /** The refcount table, raw big-endian entries. */
    private table: Buffer,
    private tableOffset: number,
    /** Where newly allocated clusters go (end of the allocated area). */
    private readonly allocate: () => number,
    private readonly validHost: (offset: number) => boolean,
  ) {
    this.bits = 2 ** refcountOrder;
    this.entriesPerBlock = (clusterSize * 8) / this.bits;
  }

  get dirty(): boolean {
    if (this.tableDirty) return true;
    for (const block of this.blocks.values()) if (block.dirty) return true;
    return false;
  }

  /** The refcount of the cluster at host offset `offset`. */
  get(offset: number): number {
    const { block, index } = this.locate(offset, false);
    return block ? readRefcount(block.buf, index, this.bits) : 0;
  }

  /** Sets the refcount of the cluster at `offset`, allocating refcount blocks as needed. */
  set(offset: number, value: number): void {
    if (value >= 2 ** Math.min(this.bits, 52)) throw new Qcow2FormatError("refcount overflow");
    const { block, index } = this.locate(offset, true);
    writeRefcount(block!.buf, index, this.bits, value);
    block!.dirty = true;
  }

  private locate(offset: number, create: boolean): { block: Block | undefined; index: number } {
    const cluster = Math.floor(offset / this.clusterSize);
    const tableIndex = Math.floor(cluster / this.entriesPerBlock);
    const index = cluster % this.entriesPerBlock;
    if (tableIndex >= this.table.length / 8) {
      if (!create) return { block: undefined, index };
      throw new Qcow2FormatError("image outgrew its refcount table");
    }
    let blockOffset = Number(this.table.readBigUInt64BE(tableIndex * 8) & ~0x1ffn);
    if (blockOffset === 0) {
      if (!create) return { block: undefined, index };
      // A new refcount block goes at the end; it is then counted like any other cluster.
      blockOffset = this.allocate();
      this.blocks.set(blockOffset, { buf: Buffer.alloc(this.clusterSize), dirty: true });
      this.table.writeBigUInt64BE(BigInt(blockOffset), tableIndex * 8);
      this.tableDirty = true;
      this.set(blockOffset, 1);
    }
    return { block: this.load(blockOffset), index };
  }

  private load(blockOffset: number): Block {
    let block = this.blocks.get(blockOffset);
    if (block) return block;
    if (blockOffset % this.clusterSize !== 0 || !this.validHost(blockOffset)) {
      throw new Qcow2FormatError(`refcount block at ${blockOffset} is misaligned or beyond the end of the file`);
    }
    const buf = Buffer.alloc(this.clusterSize);
    readSync(this.fd, buf, 0, this.clusterSize, blockOffset);
    block = { buf, dirty: false };
    this.blocks.set(blockOffset, block);
    // Clean blocks are cheap to re-read: keep the cache bounded.
    if (this.blocks.size > 256) {
      for (const [key, value] of this.blocks) {
        if (!value.dirty && key !== blockOffset) {
          this.blocks.delete(key);
          break;
        }
      }
    }
    return block;
  }

  /** Writes dirty blocks and the table (the caller fsyncs). */
  writeBack(): void {
    for (const [offset, block] of this.blocks) {
      if (!block.dirty) continue;
      writeSync(this.fd, block.buf, 0, this.clusterSize, offset);
      block.dirty = false;
    }
    if (this.tableDirty) {
      writeSync(this.fd, this.table, 0, this.table.length, this.tableOffset);
      this.tableDirty = false;
    }
  }
}

/** Reads refcount `index` of a refcount block with `bits`-bit entries (qcow2.txt "refcount_order"). */
export function readRefcount(buf: Buffer, index: number, bits: number): number {
  switch (bits) {
    case 8:
      return buf[index]!;
    case 16:
      return buf.readUInt16BE(index * 2);
    case 32:
      return buf.readUInt32BE(index * 4);
    case 64:
      return Number(buf.readBigUInt64BE(index * 8));
    default: {
      const perByte = 8 / bits;
      const byte = buf[Math.floor(index / perByte)]!;
      return (byte >> ((index % perByte) * bits)) & ((1 << bits) - 1);
    }
  }
}

/** Writes refcount `index` of a refcount block with `bits`-bit entries; sub-byte entries fill each byte from its low bits. */
export function writeRefcount(buf: Buffer, index: number, bits: number, value: number): void {
  switch (bits) {
    case 8:
      buf[index] = value;
      return;
    case 16:
      buf.writeUInt16BE(value, index * 2);
      return;
    case 32:
      buf.writeUInt32BE(value, index * 4);
      return;
    case 64:
      buf.writeBigUInt64BE(BigInt(value), index * 8);
      return;
    default: {
      const perByte = 8 / bits;
      const at = Math.floor(index / perByte);
      const shift = (index % perByte) * bits;
      const mask = ((1 << bits) - 1) << shift;
      buf[at] = (buf[at]! & ~mask) | ((value << shift) & mask);
    }
  }
}
