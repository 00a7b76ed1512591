import type { BlockChecksums } from "../../util/checked-range.ts";

/**
 * What the S3 listener sends (listener.ts): a fetch Response, whose body goes
 * through JavaScript, or a PartsResponse, whose body is parts of known length
 * sent one after the other — a part that lies in a file leaves with
 * sendfile(2) (file-send.ts), a streamed part through the connection's writes.
 */

/** Bytes [offset, offset + length) of a file. */
export interface FilePart {
  kind: "file";
  path: string;
  offset: number;
  length: number;
  /** Each block of the file's first `check.size` bytes is checked before any of its bytes are sent (absent: already checked). */
  check?: BlockChecksums;
}

/** `length` bytes that come as pieces; the source checks them itself (an error ends the response short). */
export interface StreamPart {
  kind: "stream";
  length: number;
  pieces: AsyncIterable<Uint8Array>;
}

export type BodyPart = FilePart | StreamPart;

/** A response whose body is `parts`, in order; `release` runs once it is over, sent or not. */
export interface PartsResponse {
  status: number;
  headers: Headers;
  parts: BodyPart[];
  release(): void;
}

export type ListenerResponse = Response | PartsResponse;
