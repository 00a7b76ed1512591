import { Refcounts } from "./refcounts.ts";
import type { Qcow2Header } from "./header.ts";
import { compressedExtent, type Mapping } from "./l2-entry.ts";

/**
 * Host cluster allocation of one image: new clusters are appended at the end
 * of the allocated area with refcount 1; released ones lose their reference
 * only in {@link applyFrees}, which the image calls once the L2 entries that
 * dropped them are durable (so a crash can leak a cluster, never reuse one
 * still referenced).
 */
export class ClusterAllocator {
  readonly refcounts: Refcounts;
  /** End of the allocated area: new clusters are appended here. */
  fileEnd: number;
  private pendingFrees: number[] = [];
  private readonly clusterSize: number;

  constructor(
    fd: number,
    private readonly header: Qcow2Header,
    fileSize: number,
    refcountTable: Buffer,
  ) {
    const cs = 2 ** header.clusterBits;
    this.clusterSize = cs;
    this.fileEnd = Math.ceil(fileSize / cs) * cs;
    this.refcounts = new Refcounts(
      fd,
      cs,
      header.refcountOrder,
      refcountTable,
      header.refcountTableOffset,
      () => this.append(),
      (offset) => offset + cs <= this.fileEnd,
    );
  }

  /** Reserves the next cluster at the end, without touching its refcount. */
  append(): number {
    const offset = this.fileEnd;
    this.fileEnd += this.clusterSize;
    return offset;
  }

  /** A new cluster with refcount 1. */
  allocate(): number {
    const offset = this.append();
    this.refcounts.set(offset, 1);
    return offset;
  }

  /** Queues the host clusters a mapping holds for release (see {@link applyFrees}). */
  release(mapping: Mapping): void {
    if ((mapping.kind === "data" || mapping.kind === "zero") && mapping.host !== 0) this.pendingFrees.push(mapping.host);
    if (mapping.kind === "compressed") {
      // A compressed cluster holds one reference on every host cluster its bytes touch.
      const { host, bytes } = compressedExtent(mapping.entryHi, mapping.entryLo, this.header.clusterBits);
      const first = Math.floor(host / this.clusterSize);
      const last = Math.floor((host + bytes - 1) / this.clusterSize);
      for (let c = first; c <= last; c++) this.pendingFrees.push(c * this.clusterSize);
    }
  }

  /** Queues a host cluster for release (an old table's, say). */
  releaseCluster(offset: number): void {
    this.pendingFrees.push(offset);
  }

  /** Drops the queued references; true when there were any (the caller writes them back). */
  applyFrees(): boolean {
    if (this.pendingFrees.length === 0) return false;
    for (const host of this.pendingFrees) this.refcounts.set(host, Math.max(0, this.refcounts.get(host) - 1));
    this.pendingFrees = [];
    return true;
  }
}
