import { crc32Combine, crc32Shift } from "../../util/crc32-combine.ts";
import { BLOCK_SIZE } from "./chunk-file.ts";

/** Appends a whole block to a running CRC32. */
const BLOCK_SHIFT = crc32Shift(BLOCK_SIZE);
const append = (crc: number, blockCrc: number, length: number) => crc32Combine(crc, blockCrc, length === BLOCK_SIZE ? BLOCK_SHIFT : crc32Shift(length));

/**
 * The body of a chained PUT (chain-hop.ts): the chunk's bytes cut into frames
 * along the chunk file's blocks, so each hop checks every block before it
 * stores or forwards a byte of it.
 *
 *   data frame: length (u32 BE, BLOCK_SIZE, or 1..BLOCK_SIZE for the last) | CRC32 of the bytes (u32 BE) | bytes
 *   end frame:  length 0 | CRC32 of the whole chunk (u32 BE)
 *
 * Nothing may follow the end frame, and a body that stops before it is not a chunk.
 */
export const FRAME_HEADER_SIZE = 8;

/** A frame as received, checked: its header and its bytes (in the pieces they arrived in), ready to forward. */
export interface Frame {
  header: Uint8Array;
  parts: Uint8Array[];
  /** Bytes of data; 0 for the end frame. */
  length: number;
}

/** A chained body that does not follow the format, or whose bytes do not match their CRC32. */
export class FrameError extends Error {
  constructor(detail: string) {
    super(detail);
    this.name = "FrameError";
  }
}

function header(length: number, crc32: number): Uint8Array {
  const bytes = Buffer.allocUnsafe(FRAME_HEADER_SIZE);
  bytes.writeUInt32BE(length, 0);
  bytes.writeUInt32BE(crc32 >>> 0, 4);
  return bytes;
}

/**
 * Cuts pieces of any size into frames. Each block is held (at most
 * BLOCK_SIZE bytes) until its CRC32 is known, since the header leads, then
 * sent as one piece; `push` and `end` return what is ready to send, in order.
 */
export class FrameEncoder {
  private held: Uint8Array[] = [];
  private fill = 0;
  private crc = 0;
  /** The CRC32 of the blocks framed so far (all of it after `end`), and the bytes pushed. */
  crc32 = 0;
  size = 0;

  push(piece: Uint8Array): Uint8Array[] {
    const out: Uint8Array[] = [];
    this.size += piece.length;
    while (piece.length > 0) {
      const take = Math.min(BLOCK_SIZE - this.fill, piece.length);
      const part = piece.subarray(0, take);
      piece = piece.subarray(take);
      this.crc = Bun.hash.crc32(part, this.crc);
      this.held.push(part);
      this.fill += take;
      if (this.fill === BLOCK_SIZE) this.flush(out);
    }
    return out;
  }

  /** The last (short) block's frame and the end frame. */
  end(): Uint8Array[] {
    const out: Uint8Array[] = [];
    if (this.fill > 0) this.flush(out);
    out.push(header(0, this.crc32));
    return out;
  }

  private flush(out: Uint8Array[]): void {
    // One piece per frame: a write per block on the socket rather than one per piece it arrived in.
    out.push(Buffer.concat([header(this.fill, this.crc), ...this.held]));
    this.crc32 = append(this.crc32, this.crc, this.fill);
    this.held = [];
    this.fill = 0;
    this.crc = 0;
  }
}

/** A whole chunk as frames. */
export function encodeFrames(data: Uint8Array): Uint8Array[] {
  const encoder = new FrameEncoder();
  return [...encoder.push(data), ...encoder.end()];
}

/**
 * The frames of a chained body, each yielded only once its bytes matched its
 * CRC32 (the end frame once the whole chunk's did): a damaged block, a frame
 * of the wrong length, bytes after the end or a body that stops before it
 * throw FrameError before any byte of the offending frame is yielded.
 */
export async function* decodeFrames(source: AsyncIterable<Uint8Array> | Iterable<Uint8Array>): AsyncGenerator<Frame> {
  let head = Buffer.alloc(FRAME_HEADER_SIZE);
  let headFill = 0;
  let length = -1; // of the frame being read; -1 while its header is
  let expected = 0;
  let parts: Uint8Array[] = [];
  let fill = 0;
  let crc = 0;
  let whole = 0;
  let size = 0;
  let lastWasShort = false;
  let ended = false;
  for await (const piece of source) {
    let rest = piece;
    while (rest.length > 0) {
      if (ended) throw new FrameError("bytes after the end frame");
      if (length < 0) {
        const take = Math.min(FRAME_HEADER_SIZE - headFill, rest.length);
        head.set(rest.subarray(0, take), headFill);
        headFill += take;
        rest = rest.subarray(take);
        if (headFill < FRAME_HEADER_SIZE) continue;
        length = head.readUInt32BE(0);
        expected = head.readUInt32BE(4);
        if (length === 0) {
          if ((whole >>> 0) !== expected) throw new FrameError(`the chunk's ${size} bytes do not match the CRC32 of its end frame`);
          ended = true;
          yield { header: head, parts: [], length: 0 };
          continue;
        }
        if (length > BLOCK_SIZE || lastWasShort) throw new FrameError(`a frame of ${length} bytes after ${size} bytes (frames are ${BLOCK_SIZE} bytes, the last one shorter)`);
        lastWasShort = length < BLOCK_SIZE;
        continue;
      }
      const take = Math.min(length - fill, rest.length);
      const part = rest.subarray(0, take);
      rest = rest.subarray(take);
      crc = Bun.hash.crc32(part, crc);
      parts.push(part);
      fill += take;
      if (fill < length) continue;
      if ((crc >>> 0) !== expected) throw new FrameError(`block ${size / BLOCK_SIZE} (bytes ${size}-${size + length - 1}) does not match its CRC32`);
      whole = append(whole, crc, length);
      size += length;
      yield { header: head, parts, length };
      head = Buffer.alloc(FRAME_HEADER_SIZE);
      headFill = 0;
      length = -1;
      parts = [];
      fill = 0;
      crc = 0;
    }
  }
  if (!ended) throw new FrameError(`the body ended after ${size} bytes, before its end frame`);
}
