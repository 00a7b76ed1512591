import { closeSync, readSync } from "node:fs";
import { CHECK_HOLD_BYTES } from "../../util/checked-range.ts";
import { openForReading } from "../../util/fs.ts";
import { EAGAIN, EINTR, sendFile, SystemError } from "../../util/linux.ts";
import type { FilePart } from "./response-body.ts";

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
 * through JavaScript. The part's file is checked against its CRC32 and the
 * part's last bytes wait for the check: a corrupt file ends the response
 * short, never a whole wrong body.
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
 * Sends one part. The check runs in steps while the socket is full — time the
 * sender would otherwise spend waiting for the client to read — so it adds
 * almost nothing to the response.
 */
async function sendPart(sink: FileSink, file: number, part: FilePart): Promise<void> {
  const check = part.check ? new Check(file, part) : undefined;
  const end = part.offset + part.length;
  const held = Math.max(part.offset, end - CHECK_HOLD_BYTES);
  let offset = part.offset;
  while (offset < end) {
    const limit = check && !check.done ? held : end;
    if (offset >= limit) {
      check!.step();
      continue;
    }
    const n = sendFile(sink.fd, file, offset, limit - offset);
    if (n > 0) offset += n;
    else if (n === -EAGAIN) {
      if (check && !check.done) check.step(); // while the client reads what was sent
      else offset += await sendStalled(sink, file, part, offset, end);
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
 * The CRC32 of the file's first `check.size` bytes, computed a step at a time
 * from the page cache (several GB/s); the last step throws on a mismatch.
 */
class Check {
  done = false;
  private crc = 0;
  private checked = 0;

  constructor(
    private readonly file: number,
    private readonly part: FilePart,
  ) {}

  step(): void {
    const { size, crc32 } = this.part.check!;
    const n = readSync(this.file, checkBuffer, 0, Math.min(CHECK_STEP_BYTES, size - this.checked), this.checked);
    if (n === 0) throw shorter(this.part);
    this.crc = Bun.hash.crc32(checkBuffer.subarray(0, n), this.crc);
    this.checked += n;
    if (this.checked < size) return;
    if (this.crc >>> 0 !== crc32) throw new Error(`${this.part.path} does not match its checksum`);
    this.done = true;
  }
}

function shorter(part: FilePart): Error {
  return new Error(`${part.path} is shorter than expected`);
}
