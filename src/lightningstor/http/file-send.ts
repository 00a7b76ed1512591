import { closeSync, readSync } from "node:fs";
import { blockEnd, blockStart, verifiedBlocks, type BlockChecksums } from "../../util/checked-range.ts";
import { openForReading } from "../../util/fs.ts";
import { EAGAIN, EINTR, sendFile, SystemError } from "../../util/linux.ts";
import type { FilePart, StreamPart } from "./response-body.ts";

/** Sent through the connection's own writes when the socket is full (see sendPart). */
const STALLED_PIECE_BYTES = 64 * 1024;
/** Bytes checked per step while the socket is full; small enough to stay in the CPU cache. */
const CHECK_STEP_BYTES = 256 * 1024;
const checkBuffer = Buffer.allocUnsafe(CHECK_STEP_BYTES);

/** The connection a body goes out on. */
export interface FileSink {
  fd: number;
  /** Writes through the event loop's socket; resolves once the kernel has taken all of it. */
  write(data: Uint8Array): Promise<void>;
}

/**
 * Sends a file part on a non-blocking socket with sendfile(2), from the event
 * loop, so object bytes go from the page cache to the socket without passing
 * through JavaScript. Each block of the part is checked against its CRC32
 * before any of its bytes are sent: a damaged block ends the response short,
 * at the block's start — never a wrong byte.
 */
export async function sendFilePart(sink: FileSink, part: FilePart): Promise<void> {
  const file = openForReading(part.path);
  try {
    await sendPart(sink, file, part);
  } finally {
    closeSync(file);
  }
}

/**
 * A file part as a stream, for a connection sendfile cannot serve (TLS
 * encrypts in user space): each block is still checked before any of its
 * bytes go out.
 */
export function filePartStream(part: FilePart): StreamPart {
  const end = part.offset + part.length;
  if (!part.check || part.length === 0) return { kind: "stream", length: part.length, pieces: Bun.file(part.path).slice(part.offset, end).stream() };
  const start = blockStart(part.check, part.offset);
  const source = Bun.file(part.path).slice(start, blockEnd(part.check, Math.floor((end - 1) / part.check.blockSize))).stream();
  return { kind: "stream", length: part.length, pieces: verifiedBlocks(source, part.check, start, part.offset, end) };
}

/**
 * Sends one part, never past the blocks checked so far. The check runs ahead
 * in steps while the socket is full — time the sender would otherwise spend
 * waiting for the client to read — so it adds almost nothing to the response.
 */
async function sendPart(sink: FileSink, file: number, part: FilePart): Promise<void> {
  const end = part.offset + part.length;
  const check = part.check && part.length > 0 ? new BlockCheck(file, part, part.check) : undefined;
  let offset = part.offset;
  while (offset < end) {
    const limit = check ? Math.min(check.verified, end) : end;
    if (offset >= limit) {
      check!.step();
      continue;
    }
    const n = sendFile(sink.fd, file, offset, limit - offset);
    if (n > 0) offset += n;
    else if (n === -EAGAIN) {
      if (check && check.verified < end) check.step(); // while the client reads what was sent
      else offset += await sendStalled(sink, file, part, offset, limit);
    } else if (n === 0) throw shorter(part);
    else if (n !== -EINTR) throw new SystemError("sendfile", -n);
  }
}

/**
 * The socket is full. The event loop says when it drains only for its own
 * writes, so a small piece goes through them and its completion is the signal.
 */
async function sendStalled(sink: FileSink, file: number, part: FilePart, offset: number, end: number): Promise<number> {
  const piece = Buffer.allocUnsafe(Math.min(STALLED_PIECE_BYTES, end - offset));
  const got = readSync(file, piece, 0, piece.length, offset);
  if (got === 0) throw shorter(part);
  await sink.write(piece.subarray(0, got));
  return got;
}

/**
 * The blocks covering a part, checked in order a step at a time from the page
 * cache (several GB/s): bytes before `verified` matched their block's CRC32;
 * a step that finds a damaged block throws.
 */
class BlockCheck {
  /** Where the block being read starts; everything before it matched. */
  verified: number;
  private index: number;
  private crc = 0;
  private fill = 0;
  /** The end of the part's last block. */
  private readonly limit: number;

  constructor(
    private readonly file: number,
    private readonly part: FilePart,
    private readonly sums: BlockChecksums,
  ) {
    this.index = Math.floor(part.offset / sums.blockSize);
    this.verified = this.index * sums.blockSize;
    this.limit = blockEnd(sums, Math.floor((part.offset + part.length - 1) / sums.blockSize));
  }

  step(): void {
    const { sums } = this;
    const at = this.verified + this.fill;
    const n = readSync(this.file, checkBuffer, 0, Math.min(CHECK_STEP_BYTES, this.limit - at), at);
    if (n === 0) throw shorter(this.part);
    for (let done = 0; done < n; ) {
      const end = blockEnd(sums, this.index);
      const take = Math.min(end - this.verified - this.fill, n - done);
      this.crc = Bun.hash.crc32(checkBuffer.subarray(done, done + take), this.crc);
      done += take;
      this.fill += take;
      if (this.verified + this.fill < end) continue;
      if (this.crc >>> 0 !== sums.crcs[this.index]! >>> 0) throw new Error(`${this.part.path}: bytes ${this.verified}-${end - 1} do not match their checksum`);
      this.verified = end;
      this.index++;
      this.crc = 0;
      this.fill = 0;
    }
  }
}

function shorter(part: FilePart): Error {
  return new Error(`${part.path} is shorter than expected`);
}
