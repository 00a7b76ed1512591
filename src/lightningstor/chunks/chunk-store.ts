/** What a stored chunk is: its id, size and CRC32 (as S3's default checksum, IEEE polynomial). */
export interface ChunkInfo {
  id: string;
  size: number;
  crc32: number;
}

/** A chunk whose bytes no longer match the checksum recorded when it was written. */
export class ChunkCorruptError extends Error {
  constructor(readonly id: string, detail: string) {
    super(`chunk ${id} is corrupt: ${detail}`);
    this.name = "ChunkCorruptError";
  }
}

/** Too few storage nodes answered to store or read a chunk. */
export class ChunkUnavailableError extends Error {
  constructor(readonly id: string, detail: string) {
    super(`chunk ${id} is unavailable: ${detail}`);
    this.name = "ChunkUnavailableError";
  }
}

/**
 * Where object data lives, one chunk at a time. S3 code talks only to this
 * interface: the local store (a standalone gateway) and replicated storage
 * nodes (placement and quorum stay behind it) implement it.
 */
export interface ChunkStore {
  /**
   * Stores a chunk durably — fsynced and renamed into place before the promise
   * resolves — and returns its size and checksum. Ids are never reused: putting an existing id fails.
   */
  put(id: string, data: AsyncIterable<Uint8Array> | Iterable<Uint8Array> | Uint8Array): Promise<ChunkInfo>;
  /** Reads a whole chunk and verifies it; undefined when there is no such chunk. The read may run off the main thread. */
  get(id: string): Promise<Buffer | undefined>;
  /**
   * Where a chunk's bytes lie in a local file — its first `size` bytes, whose
   * CRC32 is `crc32` — so they can be sent with sendfile; undefined when absent.
   * Only stores that keep chunks on this machine have it.
   */
  localFile?(id: string): Promise<(ChunkInfo & { path: string }) | undefined>;
  /**
   * Streams bytes [from, to) of a chunk — where `localFile` is not there to
   * send it from. The last bytes wait for the check of the whole chunk: a
   * chunk that fails it ends the stream with an error, never a whole wrong range.
   */
  read?(id: string, from: number, to: number): AsyncIterable<Uint8Array>;
  /** Size and checksum without reading the data; undefined when absent. */
  stat(id: string): Promise<ChunkInfo | undefined>;
  /** Removes a chunk; false when there was none. */
  delete(id: string): Promise<boolean>;
}

/** Chunk ids are what a path segment can safely be: lower-case hex or UUID-like. */
export function assertChunkId(id: string): void {
  if (!/^[0-9a-f][0-9a-f-]{7,127}$/.test(id)) throw new Error(`invalid chunk id "${id}"`);
}
