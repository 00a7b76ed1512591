/**
 * NBD wire constants and codecs (NetworkBlockDevice/nbd doc/proto.md).
 * Only constants and pure encode/decode live here; the phases are in
 * handshake.ts and transmission.ts.
 */

export const NBDMAGIC = 0x4e42444d41474943n;
export const IHAVEOPT = 0x49484156454f5054n;
export const OPTION_REPLY_MAGIC = 0x3e889045565a9n;
export const REQUEST_MAGIC = 0x25609513;
export const SIMPLE_REPLY_MAGIC = 0x67446698;
export const STRUCTURED_REPLY_MAGIC = 0x668e33ef;

/** Handshake flags (server) and client flags. */
export const FLAG_FIXED_NEWSTYLE = 1 << 0;
export const FLAG_NO_ZEROES = 1 << 1;
export const FLAG_C_FIXED_NEWSTYLE = 1 << 0;
export const FLAG_C_NO_ZEROES = 1 << 1;

/** Transmission flags. */
export const TF = {
  HAS_FLAGS: 1 << 0,
  READ_ONLY: 1 << 1,
  SEND_FLUSH: 1 << 2,
  SEND_FUA: 1 << 3,
  ROTATIONAL: 1 << 4,
  SEND_TRIM: 1 << 5,
  SEND_WRITE_ZEROES: 1 << 6,
  SEND_DF: 1 << 7,
  CAN_MULTI_CONN: 1 << 8,
  SEND_RESIZE: 1 << 9,
  SEND_CACHE: 1 << 10,
  SEND_FAST_ZERO: 1 << 11,
} as const;

/** Option types. */
export const OPT = {
  EXPORT_NAME: 1,
  ABORT: 2,
  LIST: 3,
  STARTTLS: 5,
  INFO: 6,
  GO: 7,
  STRUCTURED_REPLY: 8,
  LIST_META_CONTEXT: 9,
  SET_META_CONTEXT: 10,
} as const;

/** Option reply types; errors have bit 31 set. */
export const REP = {
  ACK: 1,
  SERVER: 2,
  INFO: 3,
  META_CONTEXT: 4,
  ERR_UNSUP: 0x80000001,
  ERR_POLICY: 0x80000002,
  ERR_INVALID: 0x80000003,
  ERR_PLATFORM: 0x80000004,
  ERR_TLS_REQD: 0x80000005,
  ERR_UNKNOWN: 0x80000006,
  ERR_SHUTDOWN: 0x80000007,
  ERR_BLOCK_SIZE_REQD: 0x80000008,
  ERR_TOO_BIG: 0x80000009,
} as const;

/** NBD_REP_INFO types. */
export const INFO = { EXPORT: 0, NAME: 1, DESCRIPTION: 2, BLOCK_SIZE: 3 } as const;

/** Commands. */
export const CMD = { READ: 0, WRITE: 1, DISC: 2, FLUSH: 3, TRIM: 4, CACHE: 5, WRITE_ZEROES: 6, BLOCK_STATUS: 7 } as const;

/** Command flags. */
export const CMD_FLAG = { FUA: 1 << 0, NO_HOLE: 1 << 1, DF: 1 << 2, REQ_ONE: 1 << 3, FAST_ZERO: 1 << 4 } as const;

/** Structured reply flags and types. */
export const REPLY_FLAG_DONE = 1 << 0;
export const REPLY_TYPE = { NONE: 0, OFFSET_DATA: 1, OFFSET_HOLE: 2, BLOCK_STATUS: 5, ERROR: 0x8001, ERROR_OFFSET: 0x8002 } as const;

/** Error values allowed on the wire ("Error values"). */
export const NBD_ERR = { EPERM: 1, EIO: 5, ENOMEM: 12, EINVAL: 22, ENOSPC: 28, EOVERFLOW: 75, ENOTSUP: 95, ESHUTDOWN: 108 } as const;
export type NbdErrno = (typeof NBD_ERR)[keyof typeof NBD_ERR];

/** base:allocation status flags. */
export const STATE_HOLE = 1 << 0;
export const STATE_ZERO = 1 << 1;

/** One extent of a base:allocation answer, as on the wire. */
export interface NbdExtent {
  length: number;
  /** STATE_HOLE | STATE_ZERO bits. */
  flags: number;
}
export const BASE_ALLOCATION = "base:allocation";

export const REQUEST_HEADER_SIZE = 28;
export const SIMPLE_REPLY_SIZE = 16;
export const STRUCTURED_HEADER_SIZE = 20;
export const OPTION_HEADER_SIZE = 16;
/** Strings (export names, queries) "MUST be no longer than 4096 bytes". */
export const MAX_STRING = 4096;

/** A decoded transmission request header. */
export interface Request {
  flags: number;
  type: number;
  /** The client's opaque handle, kept as two halves to avoid BigInt on the hot path. */
  handleHi: number;
  handleLo: number;
  offset: number;
  length: number;
}

/** A request object to decode into (reused per connection: no allocation per request). */
export function emptyRequest(): Request {
  return { flags: 0, type: 0, handleHi: 0, handleLo: 0, offset: 0, length: 0 };
}

/** Decodes a 28-byte request header at `at` into `into`; false when the magic is wrong. */
export function decodeRequest(buf: Buffer, at: number, into: Request): boolean {
  if (buf.readUInt32BE(at) !== REQUEST_MAGIC) return false;
  into.flags = buf.readUInt16BE(at + 4);
  into.type = buf.readUInt16BE(at + 6);
  into.handleHi = buf.readUInt32BE(at + 8);
  into.handleLo = buf.readUInt32BE(at + 12);
  // Offsets above 2^53 cannot address any export and are rejected as out of range.
  into.offset = buf.readUInt32BE(at + 16) * 0x1_0000_0000 + buf.readUInt32BE(at + 20);
  into.length = buf.readUInt32BE(at + 24);
  return true;
}

/** Writes a 64-bit unsigned number (up to 2^53) big-endian. */
export function writeU64(buf: Buffer, value: number, at: number): void {
  buf.writeUInt32BE(Math.floor(value / 0x1_0000_0000), at);
  buf.writeUInt32BE(value >>> 0, at + 4);
}

/** Reads a 64-bit unsigned big-endian number as a JS number (exact up to 2^53). */
export function readU64(buf: Buffer, at: number): number {
  return buf.readUInt32BE(at) * 0x1_0000_0000 + buf.readUInt32BE(at + 4);
}

/** Encodes a simple reply header into `buf` at `at`. */
export function writeSimpleReply(buf: Buffer, at: number, error: number, req: Request): void {
  buf.writeUInt32BE(SIMPLE_REPLY_MAGIC, at);
  buf.writeUInt32BE(error, at + 4);
  buf.writeUInt32BE(req.handleHi, at + 8);
  buf.writeUInt32BE(req.handleLo, at + 12);
}

/** Encodes a structured reply chunk header into `buf` at `at`. */
export function writeStructuredHeader(buf: Buffer, at: number, flags: number, type: number, req: Request, length: number): void {
  buf.writeUInt32BE(STRUCTURED_REPLY_MAGIC, at);
  buf.writeUInt16BE(flags, at + 4);
  buf.writeUInt16BE(type, at + 6);
  buf.writeUInt32BE(req.handleHi, at + 8);
  buf.writeUInt32BE(req.handleLo, at + 12);
  buf.writeUInt32BE(length, at + 16);
}

/** An option reply: magic, option, type, length, data. */
export function optionReply(option: number, type: number, data: Uint8Array = new Uint8Array(0)): Buffer {
  const buf = Buffer.allocUnsafe(20 + data.length);
  buf.writeBigUInt64BE(OPTION_REPLY_MAGIC, 0);
  buf.writeUInt32BE(option, 8);
  buf.writeUInt32BE(type, 12);
  buf.writeUInt32BE(data.length, 16);
  buf.set(data, 20);
  return buf;
}

/** The server's greeting: NBDMAGIC, IHAVEOPT, handshake flags. */
export function greeting(): Buffer {
  const buf = Buffer.alloc(18);
  buf.writeBigUInt64BE(NBDMAGIC, 0);
  buf.writeBigUInt64BE(IHAVEOPT, 8);
  buf.writeUInt16BE(FLAG_FIXED_NEWSTYLE | FLAG_NO_ZEROES, 16);
  return buf;
}

/** Human names of commands, for logs and errors. */
export const commandName = (type: number): string =>
  Object.entries(CMD).find(([, v]) => v === type)?.[0] ?? `CMD_${type}`;
