import { closeSync, fdatasyncSync, fstatSync, openSync, readSync, writeSync } from "node:fs";
import { inflateRawSync } from "node:zlib";
import { EXTENT_HOLE, EXTENT_ZERO, type BlockBackend, type Extent, type ZeroOptions } from "../backend/block-backend.ts";
import { BlockError } from "../backend/block-error.ts";
import { ClusterAllocator } from "./clusters.ts";
import { growImage } from "./grow.ts";
import { parseHeader, Qcow2FormatError, type Qcow2Header } from "./header.ts";
import { L2Cache } from "./l2-cache.ts";
import { compressedExtent, decodeL2Entry, encodeL1Entry, encodeL2Entry, l1EntryOffset, type Mapping } from "./l2-entry.ts";
import { readFully, writeFully } from "../../util/fs.ts";

/**
 * A qcow2 image as a {@link BlockBackend} (qemu docs/interop/qcow2.txt):
 * reads through L1/L2 to data, zero, compressed or backing clusters; writes
 * allocate clusters at the end of the file, copying the untouched head and
 * tail of a partially written cluster from what it read as before.
 *
 * Metadata is cached and written back on flush in the order that makes a
 * crash leak clusters at worst: data + refcounts → fdatasync → L2 tables →
 * fdatasync → L1 → fdatasync. Freed clusters are released only after the L2
 * entries that dropped them are durable.
 */
export class Qcow2Image implements BlockBackend {
  size: number;
  readonly header: Qcow2Header;
  private readonly fd: number;
  private readonly cs: number;
  private readonly clusterBits: number;
  private readonly l2Bits: number;
  private l1: Buffer;
  private l1Dirty = false;
  private readonly l2: L2Cache;
  private readonly clusters: ClusterAllocator;
  private readonly scratch: Buffer;

  readonly backing: BlockBackend | undefined;

  constructor(
    readonly path: string,
    readonly readOnly: boolean,
    /** Opens (and vets) the backing file the header names; required when it names one. */
    openBacking?: (header: Qcow2Header) => BlockBackend,
  ) {
    this.fd = openSync(path, readOnly ? "r" : "r+");
    try {
      const fileSize = fstatSync(this.fd).size;
      const head = Buffer.alloc(Math.min(fileSize, 2 * 1024 * 1024));
      readSync(this.fd, head, 0, head.length, 0);
      this.header = parseHeader(head, fileSize);
      this.size = this.header.size;
      this.clusterBits = this.header.clusterBits;
      this.cs = 2 ** this.clusterBits;
      this.l2Bits = this.clusterBits - 3;
      this.l1 = Buffer.alloc(this.header.l1Size * 8);
      readSync(this.fd, this.l1, 0, this.l1.length, this.header.l1TableOffset);
      const table = Buffer.alloc(this.header.refcountTableClusters * this.cs);
      readSync(this.fd, table, 0, table.length, this.header.refcountTableOffset);
      this.clusters = new ClusterAllocator(this.fd, this.header, fileSize, table);
      this.l2 = new L2Cache(this.fd, this.cs, () => this.syncRefcountsAndData());
      this.scratch = Buffer.alloc(this.cs);
      if (this.header.backingFile) {
        if (!openBacking) throw new Qcow2FormatError("images with a backing file cannot be imported");
        this.backing = openBacking(this.header);
      }
    } catch (err) {
      closeSync(this.fd);
      throw err;
    }
  }

  // ---- mapping ----

  private l1Index(offset: number): number {
    return Math.floor(offset / 2 ** (this.clusterBits + this.l2Bits));
  }

  private l2Index(offset: number): number {
    return Math.floor(offset / this.cs) % 2 ** this.l2Bits;
  }

  private l2TableOffset(l1Index: number): number {
    return l1EntryOffset(this.l1.readUInt32BE(l1Index * 8), this.l1.readUInt32BE(l1Index * 8 + 4));
  }

  /** The mapping of the cluster containing guest `offset`. */
  private lookup(offset: number): Mapping {
    const tableOffset = this.l2TableOffset(this.l1Index(offset));
    if (tableOffset === 0) return { kind: "unallocated" };
    const buf = this.l2.load(tableOffset, this.clusters.fileEnd).buf;
    const at = this.l2Index(offset) * 8;
    return decodeL2Entry(buf.readUInt32BE(at), buf.readUInt32BE(at + 4), this.header.version, this.cs, this.clusters.fileEnd);
  }

  /** Points the L2 entry of guest `offset` at `host` with flags; allocates the L2 table if needed. */
  private setEntry(offset: number, host: number, zero: boolean): void {
    const l1Index = this.l1Index(offset);
    let tableOffset = this.l2TableOffset(l1Index);
    if (tableOffset === 0) {
      tableOffset = this.clusters.allocate();
      this.l2.create(tableOffset);
      const [l1Hi, l1Lo] = encodeL1Entry(tableOffset);
      this.l1.writeUInt32BE(l1Hi, l1Index * 8);
      this.l1.writeUInt32BE(l1Lo, l1Index * 8 + 4);
      this.l1Dirty = true;
    }
    const table = this.l2.load(tableOffset, this.clusters.fileEnd);
    const at = this.l2Index(offset) * 8;
    const [hi, lo] = encodeL2Entry(host, zero);
    table.buf.writeUInt32BE(hi, at);
    table.buf.writeUInt32BE(lo, at + 4);
    table.dirty = true;
  }

  // ---- reads ----

  read(buf: Uint8Array, bufOffset: number, length: number, offset: number): void {
    let done = 0;
    while (done < length) {
      const pos = offset + done;
      const mapping = this.lookup(pos);
      const inCluster = pos % this.cs;
      let n = Math.min(this.cs - inCluster, length - done);
      if (mapping.kind === "data") {
        // Coalesce clusters that are contiguous on the host into one read.
        const host = mapping.host + inCluster;
        while (done + n < length) {
          const next = this.lookup(pos + n);
          if (next.kind !== "data" || next.host !== host + n) break;
          n += Math.min(this.cs, length - done - n);
        }
        this.readHost(buf, bufOffset + done, n, host);
      } else if (mapping.kind === "unallocated") {
        while (done + n < length && this.lookup(pos + n).kind === "unallocated") n += Math.min(this.cs, length - done - n);
        this.readBacking(buf, bufOffset + done, n, pos);
      } else if (mapping.kind === "zero") {
        buf.fill(0, bufOffset + done, bufOffset + done + n);
      } else {
        const cluster = this.decompress(mapping.entryHi, mapping.entryLo);
        buf.set(cluster.subarray(inCluster, inCluster + n), bufOffset + done);
      }
      done += n;
    }
  }

  private readHost(buf: Uint8Array, at: number, length: number, host: number): void {
    // Allocated but not yet on disk (a sparse tail) reads as zeros.
    readFully(this.fd, buf, at, length, host);
  }

  private readBacking(buf: Uint8Array, at: number, length: number, offset: number): void {
    const available = this.backing ? Math.max(0, Math.min(length, this.backing.size - offset)) : 0;
    if (available > 0) this.backing!.read(buf, at, available, offset);
    if (available < length) buf.fill(0, at + available, at + length);
  }

  /** Inflates a compressed cluster (qcow2.txt "Compressed Clusters Descriptor"). */
  private decompress(hi: number, lo: number): Buffer {
    if (this.header.compressionType !== 0) throw new BlockError("EIO", "zstd-compressed clusters are not supported");
    const { host, bytes: compressedSize } = compressedExtent(hi, lo, this.clusterBits);
    if (host + compressedSize > this.clusters.fileEnd + 512) throw new Qcow2FormatError(`compressed cluster at ${host} lies beyond the end of the file`);
    const raw = Buffer.alloc(compressedSize);
    readSync(this.fd, raw, 0, compressedSize, host);
    try {
      const out = inflateRawSync(raw, { finishFlush: 2 /* Z_SYNC_FLUSH: trailing padding is allowed */ });
      if (out.length < this.cs) return Buffer.concat([out, Buffer.alloc(this.cs - out.length)]);
      return out.subarray(0, this.cs);
    } catch (err) {
      throw new Qcow2FormatError(`compressed cluster at ${host} is corrupt: ${(err as Error).message}`);
    }
  }

  // ---- writes ----

  write(data: Uint8Array, dataOffset: number, length: number, offset: number): void {
    let done = 0;
    // A run of whole-cluster writes that are contiguous both in `data` and on the host.
    let runHost = -1;
    let runStart = 0;
    let runLength = 0;
    const flushRun = () => {
      if (runLength > 0) this.writeHost(data, dataOffset + runStart, runLength, runHost);
      runLength = 0;
    };
    while (done < length) {
      const pos = offset + done;
      const inCluster = pos % this.cs;
      const n = Math.min(this.cs - inCluster, length - done);
      const mapping = this.lookup(pos);
      let host: number;
      if (mapping.kind === "data" && mapping.copied) {
        host = mapping.host + inCluster;
      } else if (mapping.kind === "zero" && mapping.copied && mapping.host !== 0 && n === this.cs) {
        // Preallocated zero cluster, overwritten whole: reuse it in place.
        host = mapping.host;
        this.setEntry(pos, host, false);
      } else if (n === this.cs) {
        host = this.clusters.allocate();
        this.clusters.release(mapping);
        this.setEntry(pos, host, false);
      } else {
        // Partial write to a cluster we do not own alone: copy on write.
        flushRun();
        const cluster = this.scratch;
        this.read(cluster, 0, this.cs, pos - inCluster);
        cluster.set(data.subarray(dataOffset + done, dataOffset + done + n), inCluster);
        const reuse = mapping.kind === "zero" && mapping.copied && mapping.host !== 0;
        const target = reuse ? mapping.host : this.clusters.allocate();
        this.writeHost(cluster, 0, this.cs, target);
        if (!reuse) this.clusters.release(mapping);
        this.setEntry(pos, target, false);
        done += n;
        continue;
      }
      if (runLength > 0 && runHost + runLength === host && runStart + runLength === done) {
        runLength += n;
      } else {
        flushRun();
        runHost = host;
        runStart = done;
        runLength = n;
      }
      done += n;
    }
    flushRun();
  }

  private writeHost(data: Uint8Array, at: number, length: number, host: number): void {
    writeFully(this.fd, data, at, length, host);
  }

  trim(offset: number, length: number): void {
    // Only whole clusters can be dropped; TRIM is advisory for the rest.
    this.forWholeClusters(offset, length, (pos, mapping) => {
      if (mapping.kind === "unallocated" && !this.backing) return;
      if (this.header.version === 2 && this.backing) return; // v2 cannot express "zeros over a backing file"
      this.clusters.release(mapping);
      this.setEntry(pos, 0, this.backing !== undefined);
    });
  }

  writeZeroes(offset: number, length: number, options: ZeroOptions): void {
    const end = offset + length;
    const firstWhole = Math.ceil(offset / this.cs) * this.cs;
    const lastWhole = Math.floor(end / this.cs) * this.cs;
    const partial = (from: number, to: number) => {
      if (to <= from) return;
      if (options.fast) throw new BlockError("ENOTSUP", "zeroing part of a cluster is not fast");
      const zeros = Buffer.alloc(to - from);
      this.write(zeros, 0, zeros.length, from);
    };
    if (firstWhole >= lastWhole) return partial(offset, end);
    if (this.header.version === 2 && options.fast) throw new BlockError("ENOTSUP", "qcow2 v2 has no zero clusters");
    partial(offset, firstWhole);
    this.forWholeClusters(firstWhole, lastWhole - firstWhole, (pos, mapping) => {
      if (this.header.version === 2) {
        if (mapping.kind === "unallocated" && !this.backing) return;
        return this.write(Buffer.alloc(this.cs), 0, this.cs, pos);
      }
      if (options.noHole && mapping.kind === "data" && mapping.copied) return this.setEntry(pos, mapping.host, true);
      if (mapping.kind === "zero" && (mapping.host === 0 || !options.noHole)) {
        if (mapping.host !== 0) {
          this.clusters.release(mapping);
          this.setEntry(pos, 0, true);
        }
        return;
      }
      this.clusters.release(mapping);
      this.setEntry(pos, 0, true);
    });
    partial(lastWhole, end);
  }

  private forWholeClusters(offset: number, length: number, fn: (pos: number, mapping: Mapping) => void): void {
    const start = Math.ceil(offset / this.cs) * this.cs;
    for (let pos = start; pos + this.cs <= offset + length; pos += this.cs) fn(pos, this.lookup(pos));
  }

  // ---- status ----

  blockStatus(offset: number, length: number, maxExtents: number): Extent[] {
    const extents: Extent[] = [];
    const push = (len: number, flags: number) => {
      const last = extents.at(-1);
      if (last && last.flags === flags) last.length += len;
      else extents.push({ length: len, flags });
    };
    const end = Math.min(offset + length, this.size);
    let pos = offset;
    while (pos < end && extents.length <= maxExtents) {
      const mapping = this.lookup(pos);
      let n = Math.min(this.cs - (pos % this.cs), end - pos);
      if (mapping.kind === "unallocated") {
        while (pos + n < end && this.lookup(pos + n).kind === "unallocated") n += Math.min(this.cs, end - pos - n);
        const inBacking = this.backing ? Math.max(0, Math.min(n, this.backing.size - pos)) : 0;
        if (inBacking > 0) {
          let covered = 0;
          for (const e of this.backing!.blockStatus(pos, inBacking, maxExtents)) {
            push(e.length, e.flags);
            covered += e.length;
          }
          // The backing file answered less than asked: so do we.
          if (covered < inBacking) break;
        }
        if (inBacking < n) push(n - inBacking, EXTENT_HOLE | EXTENT_ZERO);
      } else if (mapping.kind === "zero") {
        push(n, mapping.host === 0 ? EXTENT_HOLE | EXTENT_ZERO : EXTENT_ZERO);
      } else {
        push(n, 0);
      }
      pos += n;
    }
    // The spec allows answering less than asked; never more extents than allowed.
    return extents.slice(0, maxExtents);
  }

  cache(): void {
    // Advisory; the page cache fills on first read.
  }

  // ---- durability ----

  private syncRefcountsAndData(): void {
    this.clusters.refcounts.writeBack();
    fdatasyncSync(this.fd);
  }

  flush(): void {
    if (this.readOnly) return;
    // 1. data + refcounts, 2. L2 tables, 3. L1 — each durable before the next may point at it.
    this.syncRefcountsAndData();
    if (this.l2.writeBack()) fdatasyncSync(this.fd);
    if (this.l1Dirty) {
      writeSync(this.fd, this.l1, 0, this.l1.length, this.header.l1TableOffset);
      this.l1Dirty = false;
      fdatasyncSync(this.fd);
    }
    // 4. Clusters dropped by now-durable L2 entries can lose their reference.
    if (this.clusters.applyFrees()) this.syncRefcountsAndData();
  }

  /** Grows the virtual size (see grow.ts), durably. */
  grow(newSize: number): void {
    if (this.readOnly) throw new Qcow2FormatError("cannot grow a read-only image");
    if (newSize < this.size) throw new Qcow2FormatError("shrinking is not supported");
    this.flush();
    this.l1 = growImage({ fd: this.fd, header: this.header, clusters: this.clusters, l1: this.l1 }, newSize);
    this.size = newSize;
    this.flush(); // releases the old L1's clusters
  }

  close(): void {
    try {
      this.flush();
    } finally {
      closeSync(this.fd);
      this.backing?.close();
    }
  }
}
