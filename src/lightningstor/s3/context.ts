import type { RequestTarget } from "./target.ts";
import type { Logger } from "../../util/log.ts";
import type { ChunkStore } from "../chunks/chunk-store.ts";
import type { S3Metadata } from "../metadata.ts";
import type { Principal } from "./access.ts";
import type { Authenticated } from "./auth.ts";
import type { ChunkReaders } from "./chunk-readers.ts";

/** What an operation handler gets. */
export interface S3Context {
  request: Request;
  url: RequestTarget;
  auth: Authenticated;
  /** Who asks, and what it may do (ListBuckets and CreateBucket ask). */
  principal: Principal;
  meta: S3Metadata;
  chunks: ChunkStore;
  /** Chunks being sent: their deletion waits for the readers. */
  readers: ChunkReaders;
  region: string;
  log: Logger;
}

/** Objects up to this size are one chunk; larger ones are split at this size (the seed's streaming threshold). */
export const CHUNK_SIZE = 16 * 1024 * 1024;

/** Chunks of one object still being made durable while the next ones arrive. */
export const MAX_CHUNKS_IN_FLIGHT = 8;
