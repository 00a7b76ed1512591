import type { Logger } from "../../util/log.ts";
import type { BlockBackend } from "../backend/block-backend.ts";
import { NbdError, nbdErrorFor, nbdExtentFlags } from "./errors.ts";
import { blockSizes } from "./exports.ts";
import type { NbdStats } from "./stats.ts";
import { BASE_ALLOCATION_ID, type Negotiated } from "./handshake.ts";
import {
  CMD,
  CMD_FLAG,
  commandName,
  decodeRequest,
  emptyRequest,
  NBD_ERR,
  REPLY_FLAG_DONE,
  REPLY_TYPE,
  REQUEST_HEADER_SIZE,
  SIMPLE_REPLY_SIZE,
  STRUCTURED_HEADER_SIZE,
  writeSimpleReply,
  writeStructuredHeader,
  writeU64,
  type Request,
} from "./protocol.ts";

/** Flags each command accepts (proto.md "Command flags"); FUA is valid on all. */
const allowedFlags: Record<number, number> = {
  [CMD.READ]: CMD_FLAG.FUA | CMD_FLAG.DF,
  [CMD.WRITE]: CMD_FLAG.FUA,
  [CMD.DISC]: 0,
  [CMD.FLUSH]: CMD_FLAG.FUA,
  [CMD.TRIM]: CMD_FLAG.FUA,
  [CMD.CACHE]: CMD_FLAG.FUA,
  [CMD.WRITE_ZEROES]: CMD_FLAG.FUA | CMD_FLAG.NO_HOLE | CMD_FLAG.FAST_ZERO,
  [CMD.BLOCK_STATUS]: CMD_FLAG.FUA | CMD_FLAG.REQ_ONE,
};
const writesData = new Set<number>([CMD.WRITE, CMD.TRIM, CMD.WRITE_ZEROES]);
/** Block status answers stop after this many extents (the spec allows returning less). */
const MAX_EXTENTS = 1024;
/** Replies of one data event are batched up to this size before being sent. */
const FLUSH_THRESHOLD = 1024 * 1024;

/** How the transmission phase talks to its connection. */
export interface TransmissionIo {
  /** Sends all of `data[offset, offset+length)`, blocking; a failed send ends the connection (through `close`). */
  write(data: Uint8Array, offset: number, length: number): void;
  close(reason: string): void;
}

/** A WRITE whose payload is still arriving. */
interface PendingWrite {
  req: Request;
  /** Next export offset to write at. */
  position: number;
  remaining: number;
  /** Set when the request was rejected or failed: the rest of the payload is drained. */
  error: NbdError | undefined;
}

/**
 * The transmission phase of one connection (proto.md "Transmission").
 * Requests are parsed straight out of each data event, validated before the
 * backend sees them, executed with synchronous positional I/O, and all replies
 * of the event leave in one send. WRITE payloads are written to their offset
 * from the received buffer, without another copy. Sends block (the I/O
 * worker owns the socket), so memory stays bounded by one batch plus one request.
 */
export class Transmission {
  /** Replies being built. */
  private out: Buffer;
  private used = 0;
  private partialHeader: Buffer | undefined;
  private pending: PendingWrite | undefined;
  private closed = false;
  /** The request being decoded, and the WRITE whose payload is arriving (both reused). */
  private readonly req = emptyRequest();
  private readonly writeReq = emptyRequest();
  private readonly structured: boolean;

  constructor(
    private readonly backend: BlockBackend,
    private readonly negotiated: Negotiated,
    private readonly io: TransmissionIo,
    private readonly log: Logger,
    private readonly stats: NbdStats,
  ) {
    this.structured = negotiated.structuredReplies;
    this.out = Buffer.allocUnsafe(2 * 1024 * 1024);
  }

  /** Handles the bytes `chunk[0, end)` of one receive (a reused receive buffer need not be sliced). */
  feed(chunk: Buffer, end = chunk.length): void {
    let at = 0;
    if (this.partialHeader) {
      const need = REQUEST_HEADER_SIZE - this.partialHeader.length;
      if (end < need) {
        this.partialHeader = Buffer.concat([this.partialHeader, chunk.subarray(0, end)]);
        return;
      }
      const header = Buffer.concat([this.partialHeader, chunk.subarray(0, need)]);
      this.partialHeader = undefined;
      at = need;
      if (!this.handleHeader(header, 0)) return this.flushOut();
    }
    while (!this.closed) {
      if (this.pending) {
        at += this.consumePayload(chunk, at, end);
        if (this.pending) break;
        continue;
      }
      if (at === end) break;
      if (end - at < REQUEST_HEADER_SIZE) {
        this.partialHeader = Buffer.from(chunk.subarray(at, end));
        break;
      }
      const ok = this.handleHeader(chunk, at);
      at += REQUEST_HEADER_SIZE;
      if (!ok) break;
      if (this.used >= FLUSH_THRESHOLD) this.flushOut();
    }
    this.flushOut();
  }

  /** Parses and runs one request header; false when the connection must end. */
  private handleHeader(buf: Buffer, at: number): boolean {
    const req = this.req;
    if (!decodeRequest(buf, at, req)) {
      this.close("bad request magic");
      return false;
    }
    if (req.type === CMD.DISC) {
      this.flushOut();
      this.close("client disconnected");
      return false;
    }
    const invalid = this.validate(req);
    if (req.type === CMD.WRITE) {
      // A rejected WRITE's payload is still consumed, so the stream stays in step.
      Object.assign(this.writeReq, req);
      this.pending = { req: this.writeReq, position: req.offset, remaining: req.length, error: invalid };
      if (req.length === 0) this.finishWrite();
      return true;
    }
    if (invalid) {
      this.replyError(req, invalid);
      return true;
    }
    try {
      this.execute(req);
      this.stats.request(req.type, false, req.type === CMD.READ ? req.length : 0);
    } catch (err) {
      this.replyError(req, err);
    }
    return true;
  }

  /** Checks a request against the negotiated export before the backend is called. */
  private validate(req: Request): NbdError | undefined {
    const allowed = allowedFlags[req.type];
    if (allowed === undefined) return new NbdError(NBD_ERR.EINVAL, `unknown command ${req.type}`);
    const name = commandName; // evaluated only when a message is built
    if ((req.flags & ~allowed) !== 0) return new NbdError(NBD_ERR.EINVAL, `flags 0x${req.flags.toString(16)} not valid for ${name(req.type)}`);
    if (req.flags & CMD_FLAG.DF && !this.structured) return new NbdError(NBD_ERR.EINVAL, "DF requires structured replies");
    if (writesData.has(req.type) && (this.backend.readOnly || this.negotiated.export.readOnly)) return new NbdError(NBD_ERR.EPERM, `${name(req.type)} on a read-only export`);
    if (req.type === CMD.FLUSH) {
      return req.offset === 0 && req.length === 0 ? undefined : new NbdError(NBD_ERR.EINVAL, "FLUSH offset and length must be zero");
    }
    if (req.type === CMD.BLOCK_STATUS && !this.negotiated.baseAllocation) {
      return new NbdError(NBD_ERR.EINVAL, "BLOCK_STATUS without a negotiated meta context");
    }
    if (req.length === 0) return new NbdError(NBD_ERR.EINVAL, `${name(req.type)} of zero length`);
    if (req.offset + req.length > this.backend.size) {
      const errno = writesData.has(req.type) ? NBD_ERR.ENOSPC : NBD_ERR.EINVAL;
      return new NbdError(errno, `${name(req.type)} at ${req.offset}+${req.length} is beyond the export size ${this.backend.size}`);
    }
    if ((req.type === CMD.READ || req.type === CMD.WRITE) && req.length > blockSizes.maximum) {
      return new NbdError(NBD_ERR.EINVAL, `${name(req.type)} of ${req.length} bytes exceeds the maximum block size ${blockSizes.maximum}`);
    }
    return undefined;
  }

  private execute(req: Request): void {
    const fua = (req.flags & CMD_FLAG.FUA) !== 0;
    switch (req.type) {
      case CMD.READ:
        return this.read(req);
      case CMD.FLUSH:
        this.backend.flush();
        return this.replyOk(req);
      case CMD.TRIM:
        this.backend.trim(req.offset, req.length);
        if (fua) this.backend.flush();
        return this.replyOk(req);
      case CMD.WRITE_ZEROES:
        this.backend.writeZeroes(req.offset, req.length, {
          noHole: (req.flags & CMD_FLAG.NO_HOLE) !== 0,
          fast: (req.flags & CMD_FLAG.FAST_ZERO) !== 0,
        });
        if (fua) this.backend.flush();
        return this.replyOk(req);
      case CMD.CACHE:
        this.backend.cache(req.offset, req.length);
        return this.replyOk(req);
      case CMD.BLOCK_STATUS:
        return this.blockStatus(req);
    }
  }

  /** Writes the part of a WRITE payload present in `chunk` from `at`; returns bytes consumed. */
  private consumePayload(chunk: Buffer, at: number, end: number): number {
    const pending = this.pending!;
    const n = Math.min(pending.remaining, end - at);
    if (n > 0 && !pending.error) {
      try {
        this.backend.write(chunk, at, n, pending.position);
      } catch (err) {
        const mapped = nbdErrorFor(err);
        if (mapped.unexpected) this.log.error("write failed", { export: this.negotiated.export.name, offset: pending.position, error: mapped.message });
        pending.error = new NbdError(mapped.errno, mapped.message);
      }
    }
    pending.position += n;
    pending.remaining -= n;
    if (pending.remaining === 0) this.finishWrite();
    return n;
  }

  private finishWrite(): void {
    const { req, error } = this.pending!;
    this.pending = undefined;
    if (error) return this.replyError(req, error);
    try {
      // FUA: the reply waits until this write is on stable storage.
      if (req.flags & CMD_FLAG.FUA) this.backend.flush();
      this.replyOk(req);
      this.stats.request(CMD.WRITE, false, 0, req.length);
    } catch (err) {
      this.replyError(req, err);
    }
  }

  private read(req: Request): void {
    const header = this.structured ? STRUCTURED_HEADER_SIZE + 8 : SIMPLE_REPLY_SIZE;
    this.reserve(header + req.length);
    // Read first: on failure nothing of this reply has been emitted yet.
    this.backend.read(this.out, this.used + header, req.length, req.offset);
    if (this.structured) {
      writeStructuredHeader(this.out, this.used, REPLY_FLAG_DONE, REPLY_TYPE.OFFSET_DATA, req, 8 + req.length);
      writeU64(this.out, req.offset, this.used + STRUCTURED_HEADER_SIZE);
    } else {
      writeSimpleReply(this.out, this.used, 0, req);
    }
    this.used += header + req.length;
  }

  private blockStatus(req: Request): void {
    const max = req.flags & CMD_FLAG.REQ_ONE ? 1 : MAX_EXTENTS;
    const extents = this.backend.blockStatus(req.offset, req.length, max);
    if (extents.length === 0) throw new NbdError(NBD_ERR.EIO, "backend returned no extents");
    const payload = 4 + 8 * extents.length;
    this.reserve(STRUCTURED_HEADER_SIZE + payload);
    writeStructuredHeader(this.out, this.used, REPLY_FLAG_DONE, REPLY_TYPE.BLOCK_STATUS, req, payload);
    let at = this.used + STRUCTURED_HEADER_SIZE;
    this.out.writeUInt32BE(BASE_ALLOCATION_ID, at);
    at += 4;
    for (const extent of extents) {
      this.out.writeUInt32BE(extent.length, at);
      this.out.writeUInt32BE(nbdExtentFlags(extent.flags), at + 4);
      at += 8;
    }
    this.used = at;
  }

  private replyOk(req: Request): void {
    this.reserve(SIMPLE_REPLY_SIZE);
    writeSimpleReply(this.out, this.used, 0, req);
    this.used += SIMPLE_REPLY_SIZE;
  }

  /** Error replies: structured (with a message) once negotiated, as proto.md prefers. */
  private replyError(req: Request, err: unknown): void {
    const mapped = nbdErrorFor(err);
    this.stats.request(req.type, true);
    if (mapped.unexpected) this.log.error("request failed", { export: this.negotiated.export.name, command: commandName(req.type), offset: req.offset, length: req.length, error: mapped.message });
    if (!this.structured) {
      this.reserve(SIMPLE_REPLY_SIZE);
      writeSimpleReply(this.out, this.used, mapped.errno, req);
      this.used += SIMPLE_REPLY_SIZE;
      return;
    }
    const message = Buffer.from(mapped.message.slice(0, 256));
    this.reserve(STRUCTURED_HEADER_SIZE + 6 + message.length);
    writeStructuredHeader(this.out, this.used, REPLY_FLAG_DONE, REPLY_TYPE.ERROR, req, 6 + message.length);
    this.out.writeUInt32BE(mapped.errno, this.used + STRUCTURED_HEADER_SIZE);
    this.out.writeUInt16BE(message.length, this.used + STRUCTURED_HEADER_SIZE + 4);
    message.copy(this.out, this.used + STRUCTURED_HEADER_SIZE + 6);
    this.used += STRUCTURED_HEADER_SIZE + 6 + message.length;
  }

  /** Makes room for `n` more bytes in the reply buffer, sending what is queued if needed. */
  private reserve(n: number): void {
    if (this.used + n <= this.out.length) return;
    this.flushOut();
    if (this.used + n > this.out.length) {
      const bigger = Buffer.allocUnsafe(Math.max(this.used + n, this.out.length * 2));
      this.out.copy(bigger, 0, 0, this.used);
      this.out = bigger;
    }
  }

  private flushOut(): void {
    if (this.used === 0) return;
    this.io.write(this.out, 0, this.used);
    this.used = 0;
  }

  /** Ends the connection; replies already built have been sent by then. */
  private close(reason: string): void {
    this.closed = true;
    this.io.close(reason);
  }
}
