import { closeSync, openSync, readSync } from "node:fs";
import { EAGAIN, EINTR, pollWritable, sendFile, SystemError } from "../../util/linux.ts";
import type { FilePart } from "./file-body.ts";

/** How long a client may stop reading before the response is abandoned. */
const STALL_MS = 60_000;
/** Bytes of a part not sent until its file passed its check. */
const HELD_BACK_BYTES = 64 * 1024;

/**
 * Sends file parts on a socket with sendfile(2), each file's region checked
 * against its CRC32 before the part's last bytes go (so a corrupt chunk ends
 * the response early and the client sees a short body, never a whole wrong one). Progress is kept, so a caller
 * that must not block can send what the socket takes now and hand the rest on.
 */
export class FileSender {
  private index = 0;
  private sent = 0;
  private verified = -1;

  constructor(
    private readonly socket: number,
    private readonly parts: FilePart[],
    private readonly buffer: Buffer,
  ) {}

  get done(): boolean {
    return this.index === this.parts.length;
  }

  /** What is left to send, with the parts already checked marked so. */
  rest(): FilePart[] {
    return this.parts.slice(this.index).map((part, i) => {
      const skip = i === 0 ? this.sent : 0;
      return { ...part, offset: part.offset + skip, length: part.length - skip, check: this.index + i <= this.verified ? undefined : part.check };
    });
  }

  /** Sends until done or, unless `block`, until the socket is full. */
  run(block: boolean): void {
    while (!this.done) {
      const part = this.parts[this.index]!;
      const file = openSync(part.path, "r");
      try {
        const checked = this.verified >= this.index || !part.check;
        // An unchecked part's last bytes are held back until its check passed: the
        // client reads while the chunk is checked, and a corrupt one can only end
        // the response short.
        const held = checked ? 0 : Math.min(HELD_BACK_BYTES, part.length);
        if (!this.sendUntil(file, part, part.length - held, block)) return;
        if (!checked) {
          verify(file, part, this.buffer);
          this.verified = this.index;
        }
        if (!this.sendUntil(file, part, part.length, block)) return;
      } finally {
        closeSync(file);
      }
      this.index++;
      this.sent = 0;
    }
  }

  /** Sends the part up to `until`; false when the socket is full and we may not block. */
  private sendUntil(file: number, part: FilePart, until: number, block: boolean): boolean {
    while (this.sent < until) {
      const n = sendFile(this.socket, file, part.offset + this.sent, until - this.sent);
      if (n > 0) this.sent += n;
      else if (n === -EAGAIN) {
        if (!block) return false;
        if (!pollWritable(this.socket, STALL_MS)) throw new Error("the client stopped reading");
      } else if (n === 0) throw new Error(`${part.path} is shorter than expected`);
      else if (n !== -EINTR) throw new SystemError("sendfile", -n);
    }
    return true;
  }
}

function verify(file: number, part: FilePart, buffer: Buffer): void {
  const { size, crc32 } = part.check!;
  let crc = 0;
  for (let done = 0; done < size; ) {
    const n = readSync(file, buffer, 0, Math.min(buffer.length, size - done), done);
    if (n === 0) throw new Error(`${part.path} is shorter than expected`);
    crc = Bun.hash.crc32(buffer.subarray(0, n), crc);
    done += n;
  }
  if (crc >>> 0 !== crc32) throw new Error(`${part.path} does not match its checksum`);
}
