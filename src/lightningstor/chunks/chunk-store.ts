import type { BlockChecksums } from "../../util/checked-range.ts";

/** What a stored chunk is: its id, size and CRC32 (as S3's default checksum, IEEE polynomial). */
export interface ChunkInfo {
  id: string;
  size: number;
  crc32: number;
}

/** Bytes of a chunk in a local file, whose blocks must match `check` before they are sent. */
export interface ChunkFileRange {
  kind: "file";
  path: string;
  offset: number;
  length: number;
  check: BlockChecksums;
}

/** Bytes of a chunk as a stream that checks each block before passing it on. */
export interface ChunkStreamRange {
  kind: "stream";
  length: number;
  pieces: AsyncIterable<Uint8Array>;
}

/** An opened range of a chunk: a file part to send with sendfile, or a stream. */
export type ChunkRange = ChunkFileRange | ChunkStreamRange;

/** A chunk whose bytes no longer match the checksum recorded when it was written. */
export class ChunkCorruptError extends Error {
  constructor(readonly id: string, detail: string) {
    super(`chunk ${id} is corrupt: ${detail}`);
    this.name = "ChunkCorruptError";
  }
}

/** No room for a chunk: the disk that was to hold it is full (retrying will not help until space is freed). */
export class ChunkStoreFullError extends Error {
  constructor(readonly id: string, detail: string) {
    super(`no room for chunk ${id}: ${detail}`);
    this.name = "ChunkStoreFullError";
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
  /** A fresh id for a chunk to put (chunk-ids.ts): the store knows whose chunks it collects. */
  newId(): string;
  /**
   * Stores a chunk durably — fsynced and renamed into place before the promise
   * resolves — and returns its size and checksum. Ids are never reused: putting an existing id fails.
   */
  put(id: string, data: AsyncIterable<Uint8Array> | Iterable<Uint8Array> | Uint8Array): Promise<ChunkInfo>;
  /** Reads a whole chunk and verifies it; undefined when there is no such chunk. The read may run off the main thread. */
  get(id: string): Promise<Buffer | undefined>;
  /**
   * Opens bytes [from, to) of a chunk to send: where they lie in a local file
   * (to send with sendfile, each block checked before it goes), or a stream
   * that passes on each block once it matched its checksum — a damaged block
   * is read from another copy, or ends the stream with an error when there is
   * none: never a wrong byte. Undefined when the store knows the chunk is
   * absent; a stream may find it out as it goes.
   */
  open(id: string, from: number, to: number): Promise<ChunkRange | undefined>;
  /** Size and checksum without reading the data; undefined when absent. */
  stat(id: string): Promise<ChunkInfo | undefined>;
  /** Removes a chunk; false when there was none. */
  delete(id: string): Promise<boolean>;
  /** Whether a put could be acknowledged now (enough storage nodes known and answering); the S3 ready probe says so. */
  writable(): boolean;
}

/** Chunk ids are what a path segment can safely be: lower-case hex or UUID-like. */
export function assertChunkId(id: string): void {
  if (!/^[0-9a-f][0-9a-f-]{7,127}$/.test(id)) throw new Error(`invalid chunk id "${id}"`);
}
