import { fdatasyncSync, writeSync } from "node:fs";
import type { ClusterAllocator } from "./clusters.ts";
import type { Qcow2Header } from "./header.ts";

/** What growing needs of an open, flushed image. */
export interface GrowTarget {
  fd: number;
  header: Qcow2Header;
  clusters: ClusterAllocator;
  /** The current L1 table. */
  l1: Buffer;
}

/**
 * Sets a flushed image's virtual size to `newSize` (qcow2.txt "Header":
 * size, l1_size, l1_table_offset). When the L1 table is too small it is
 * rewritten, larger, at the end of the file — durable, with its refcounts,
 * before the header points at it — and the old table's clusters are queued
 * for release. Returns the L1 table now in use; the caller flushes.
 */
export function growImage(image: GrowTarget, newSize: number): Buffer {
  const { fd, header, clusters } = image;
  const cs = 2 ** header.clusterBits;
  const entries = Math.ceil(newSize / (cs * (cs / 8)));
  const fields = Buffer.alloc(20);
  let l1 = image.l1;
  if (entries > l1.length / 8) {
    const count = Math.ceil((entries * 8) / cs);
    const offset = clusters.fileEnd;
    for (let i = 0; i < count; i++) clusters.append();
    for (let i = 0; i < count; i++) clusters.refcounts.set(offset + i * cs, 1);
    const table = Buffer.alloc(count * cs);
    l1.copy(table);
    writeSync(fd, table, 0, table.length, offset);
    clusters.refcounts.writeBack();
    fdatasyncSync(fd);
    const oldOffset = header.l1TableOffset;
    const oldClusters = Math.ceil(l1.length / cs);
    fields.writeUInt32BE(entries, 0);
    fields.writeBigUInt64BE(BigInt(offset), 4);
    writeSync(fd, fields, 0, 12, 36); // l1_size, l1_table_offset
    header.l1Size = entries;
    header.l1TableOffset = offset;
    l1 = table.subarray(0, entries * 8);
    for (let i = 0; i < oldClusters; i++) clusters.releaseCluster(oldOffset + i * cs);
  }
  fields.writeBigUInt64BE(BigInt(newSize), 12);
  writeSync(fd, fields, 12, 8, 24); // size
  fdatasyncSync(fd);
  header.size = newSize;
  return l1;
}
