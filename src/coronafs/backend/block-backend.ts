/** The range is not allocated: it reads from the backing image, or as zeros without one. */
export const EXTENT_HOLE = 1;
/** The range reads as zeros. */
export const EXTENT_ZERO = 2;

/** One extent of an allocation status answer. */
export interface Extent {
  length: number;
  /** EXTENT_HOLE | EXTENT_ZERO bits. */
  flags: number;
}

/** Options of {@link BlockBackend.writeZeroes}. */
export interface ZeroOptions {
  /** Keep the range allocated (NBD_CMD_FLAG_NO_HOLE). */
  noHole: boolean;
  /** Fail with ENOTSUP rather than fall back to writing zeros (NBD_CMD_FLAG_FAST_ZERO). */
  fast: boolean;
}

/**
 * A block device image as the NBD server sees it: raw files and qcow2 images
 * implement it. Calls are synchronous positional I/O — the fastest path in Bun
 * (see docs/benchmarks/nbd.md). Requests are validated by the server before
 * they reach a backend; backends throw {@link BlockError} or system errors
 * (both carry an errno-like `code`; the protocol layer translates them).
 */
export interface BlockBackend {
  readonly size: number;
  readonly readOnly: boolean;
  /** Reads `length` bytes at `offset` into `buf` at `bufOffset`. */
  read(buf: Uint8Array, bufOffset: number, length: number, offset: number): void;
  /** Writes `length` bytes of `data` from `dataOffset` at `offset`. */
  write(data: Uint8Array, dataOffset: number, length: number, offset: number): void;
  /** Makes every completed write durable (data and metadata). */
  flush(): void;
  /** Discards a range (it may then read as anything; raw and qcow2 read zeros). */
  trim(offset: number, length: number): void;
  writeZeroes(offset: number, length: number, options: ZeroOptions): void;
  /** Allocation status from `offset`, at most `length` bytes and `maxExtents` extents. */
  blockStatus(offset: number, length: number, maxExtents: number): Extent[];
  /** Prefetches a range (NBD_CMD_CACHE). */
  cache(offset: number, length: number): void;
  close(): void;
}
