import type { Logger } from "../../util/log.ts";
import type { AccessList } from "./access.ts";
import type { ExportInfo, ExportProvider } from "./exports.ts";
import { blockSizes } from "./exports.ts";
import {
  BASE_ALLOCATION,
  FLAG_C_FIXED_NEWSTYLE,
  FLAG_C_NO_ZEROES,
  IHAVEOPT,
  INFO,
  MAX_STRING,
  OPT,
  OPTION_HEADER_SIZE,
  optionReply,
  REP,
  TF,
  writeU64,
} from "./protocol.ts";

/** Option payloads larger than this end the session: no option we know needs more. */
const MAX_OPTION_LENGTH = 64 * 1024;
/** The id of base:allocation in NBD_REP_META_CONTEXT and block status replies. */
export const BASE_ALLOCATION_ID = 1;

/** What the handshake negotiated, handed to the transmission phase. */
export interface Negotiated {
  export: ExportInfo;
  structuredReplies: boolean;
  /** True when base:allocation was selected for this export. */
  baseAllocation: boolean;
  flags: number;
}

/** TLS on NBD (proto.md "TLS support"): off is NOTLS mode, require is FORCEDTLS mode, allow takes both. */
export type TlsMode = "off" | "allow" | "require";

/** Who may do what: the TLS mode, and which identity may open which export. */
export interface HandshakeSecurity {
  tls: TlsMode;
  /** Without it every client may open every export. */
  access?: AccessList;
}

/** An export this client may open, or why not (an option error reply). */
type Opened = { exp: ExportInfo } | { error: number; message: string };

/** How the handshake talks to its connection. */
export interface HandshakeIo {
  send(data: Uint8Array): void;
  /** NBD_REP_ACK to STARTTLS was sent: run the TLS handshake, starting with `rest`; then call `tlsEstablished`. */
  startTls(rest: Buffer): void;
  /** Ends the connection (after sending what was queued). */
  close(reason: string): void;
  /** Called once on NBD_OPT_GO / EXPORT_NAME success, with bytes received after the option. */
  enterTransmission(negotiated: Negotiated, rest: Buffer): void;
}

/** Transmission flags for an export: only what works is advertised. */
export function transmissionFlags(exp: ExportInfo, structuredReplies: boolean): number {
  // All connections to a volume share one image instance (one I/O worker), so a FLUSH covers them all.
  let flags = TF.HAS_FLAGS | TF.SEND_FLUSH | TF.SEND_FUA | TF.SEND_CACHE | TF.CAN_MULTI_CONN;
  if (exp.readOnly) flags |= TF.READ_ONLY;
  else flags |= TF.SEND_TRIM | TF.SEND_WRITE_ZEROES | TF.SEND_FAST_ZERO;
  // Every READ is answered with one data chunk, so "don't fragment" always holds.
  if (structuredReplies) flags |= TF.SEND_DF;
  return flags;
}

/**
 * The fixed newstyle handshake, server side (proto.md "Fixed newstyle
 * negotiation"): client flags, then options until GO, EXPORT_NAME or ABORT.
 * Bytes are fed as they arrive; a protocol violation closes this connection only.
 */
export class Handshake {
  private buffered: Buffer = Buffer.alloc(0);
  private clientFlags: number | undefined;
  private structuredReplies = false;
  /** The export name base:allocation was selected for, if any. */
  private metaContextExport: string | undefined;
  private done = false;
  /** Between NBD_REP_ACK to STARTTLS and the end of the TLS handshake: no option is parsed. */
  private awaitingTls = false;
  /** Set once TLS is up, with the client's identity (PSK username or certificate CN). */
  private tls: { identity: string | undefined } | undefined;

  constructor(
    private readonly provider: ExportProvider,
    private readonly io: HandshakeIo,
    private readonly log: Logger,
    private readonly security: HandshakeSecurity = { tls: "off" },
  ) {}

  /** True until the client flags arrived (the first bytes a client sends). */
  get expectsClientFlags(): boolean {
    return this.clientFlags === undefined && this.buffered.length === 0;
  }

  /** The TLS handshake succeeded; option haggling goes on over TLS. */
  tlsEstablished(identity: string | undefined): void {
    this.awaitingTls = false;
    this.tls = { identity };
  }

  feed(chunk: Buffer): void {
    this.buffered = this.buffered.length === 0 ? chunk : Buffer.concat([this.buffered, chunk]);
    while (!this.done && !this.awaitingTls) {
      if (this.clientFlags === undefined) {
        if (this.buffered.length < 4) return;
        const flags = this.buffered.readUInt32BE(0);
        this.buffered = this.buffered.subarray(4);
        // "the server MUST drop the TCP connection if the client sets an unknown flag"
        if ((flags & ~(FLAG_C_FIXED_NEWSTYLE | FLAG_C_NO_ZEROES)) !== 0) return this.io.close(`unknown client flags 0x${flags.toString(16)}`);
        this.clientFlags = flags;
        continue;
      }
      if (this.buffered.length < OPTION_HEADER_SIZE) return;
      if (this.buffered.readBigUInt64BE(0) !== IHAVEOPT) return this.io.close("bad option magic");
      const option = this.buffered.readUInt32BE(8);
      const length = this.buffered.readUInt32BE(12);
      if (length > MAX_OPTION_LENGTH) return this.io.close(`option ${option} too long (${length} bytes)`);
      if (this.buffered.length < OPTION_HEADER_SIZE + length) return;
      const data = this.buffered.subarray(OPTION_HEADER_SIZE, OPTION_HEADER_SIZE + length);
      this.buffered = this.buffered.subarray(OPTION_HEADER_SIZE + length);
      this.handleOption(option, data);
    }
  }

  private reply(option: number, type: number, data?: Uint8Array): void {
    this.io.send(optionReply(option, type, data));
  }

  private error(option: number, type: number, message: string): void {
    this.reply(option, type, Buffer.from(message));
  }

  private handleOption(option: number, data: Buffer): void {
    if (option === OPT.STARTTLS) return this.startTls(data);
    // FORCEDTLS: "If the server receives any other option, it MUST reply with NBD_REP_ERR_TLS_REQD".
    // ABORT keeps its ACK so a client without TLS can still leave cleanly.
    if (this.security.tls === "require" && !this.tls && option !== OPT.ABORT) {
      if (option === OPT.EXPORT_NAME) return this.io.close("NBD_OPT_EXPORT_NAME without TLS on a TLS-only server");
      return this.error(option, REP.ERR_TLS_REQD, "this server requires TLS: send NBD_OPT_STARTTLS first");
    }
    switch (option) {
      case OPT.EXPORT_NAME:
        return this.exportName(data);
      case OPT.ABORT:
        this.reply(option, REP.ACK);
        this.done = true;
        return this.io.close("client aborted the handshake");
      case OPT.LIST:
        if (data.length !== 0) return this.error(option, REP.ERR_INVALID, "NBD_OPT_LIST takes no data");
        // The bytes after the name are "details suitable for direct display": the description.
        for (const exp of this.provider.listExports()) if (this.mayOpen(exp.name)) this.reply(option, REP.SERVER, Buffer.concat([lengthPrefixed(exp.name), Buffer.from(exp.description)]));
        return this.reply(option, REP.ACK);
      case OPT.STRUCTURED_REPLY:
        if (data.length !== 0) return this.error(option, REP.ERR_INVALID, "NBD_OPT_STRUCTURED_REPLY takes no data");
        this.structuredReplies = true;
        return this.reply(option, REP.ACK);
      case OPT.INFO:
      case OPT.GO:
        return this.infoOrGo(option, data);
      case OPT.LIST_META_CONTEXT:
      case OPT.SET_META_CONTEXT:
        return this.metaContext(option, data);
      default:
        // Unknown options were drained; the session goes on.
        return this.error(option, REP.ERR_UNSUP, `option ${option} is not supported`);
    }
  }

  /** NBD_OPT_EXPORT_NAME: no error reply is possible, so failure ends the session. */
  private exportName(data: Buffer): void {
    const name = data.toString("utf8");
    const opened = this.open(name);
    if ("error" in opened) return this.io.close(`export "${name}" requested with NBD_OPT_EXPORT_NAME: ${opened.message}`);
    const exp = opened.exp;
    const flags = transmissionFlags(exp, false);
    const noZeroes = ((this.clientFlags ?? 0) & FLAG_C_NO_ZEROES) !== 0;
    const reply = Buffer.alloc(10 + (noZeroes ? 0 : 124));
    writeU64(reply, exp.size, 0);
    reply.writeUInt16BE(flags, 8);
    this.io.send(reply);
    // Structured replies and meta contexts only take effect through NBD_OPT_GO.
    this.finish({ export: exp, structuredReplies: this.structuredReplies, baseAllocation: this.metaContextExport === name, flags });
  }

  private infoOrGo(option: number, data: Buffer): void {
    if (data.length < 6) return this.error(option, REP.ERR_INVALID, "truncated NBD_OPT_INFO/GO");
    const nameLength = data.readUInt32BE(0);
    if (nameLength > MAX_STRING || 4 + nameLength + 2 > data.length) return this.error(option, REP.ERR_INVALID, "bad export name length");
    const name = data.toString("utf8", 4, 4 + nameLength);
    const requests = data.readUInt16BE(4 + nameLength);
    if (data.length !== 4 + nameLength + 2 + 2 * requests) return this.error(option, REP.ERR_INVALID, "bad information request count");
    const wanted = new Set<number>();
    for (let i = 0; i < requests; i++) wanted.add(data.readUInt16BE(4 + nameLength + 2 + 2 * i));

    const opened = this.open(name);
    if ("error" in opened) return this.error(option, opened.error, opened.message);
    const exp = opened.exp;
    const flags = transmissionFlags(exp, this.structuredReplies);
    const info = Buffer.alloc(12);
    info.writeUInt16BE(INFO.EXPORT, 0);
    writeU64(info, exp.size, 2);
    info.writeUInt16BE(flags, 10);
    this.reply(option, REP.INFO, info);
    if (wanted.has(INFO.NAME)) this.reply(option, REP.INFO, Buffer.concat([u16(INFO.NAME), Buffer.from(exp.name)]));
    if (wanted.has(INFO.DESCRIPTION) && exp.description) {
      this.reply(option, REP.INFO, Buffer.concat([u16(INFO.DESCRIPTION), Buffer.from(exp.description)]));
    }
    if (wanted.has(INFO.BLOCK_SIZE)) {
      const sizes = Buffer.alloc(14);
      sizes.writeUInt16BE(INFO.BLOCK_SIZE, 0);
      sizes.writeUInt32BE(blockSizes.minimum, 2);
      sizes.writeUInt32BE(blockSizes.preferred, 6);
      sizes.writeUInt32BE(blockSizes.maximum, 10);
      this.reply(option, REP.INFO, sizes);
    }
    this.reply(option, REP.ACK);
    if (option === OPT.INFO) return;
    this.finish({ export: exp, structuredReplies: this.structuredReplies, baseAllocation: this.metaContextExport === name, flags });
  }

  /** LIST/SET_META_CONTEXT: only `base:allocation` exists (proto.md "Metadata querying"). */
  private metaContext(option: number, data: Buffer): void {
    if (!this.structuredReplies) return this.error(option, REP.ERR_INVALID, "negotiate structured replies first");
    const parsed = parseMetaQuery(data);
    if (typeof parsed === "string") return this.error(option, REP.ERR_INVALID, parsed);
    const opened = this.open(parsed.exportName);
    if ("error" in opened) return this.error(option, opened.error, opened.message);
    const list = option === OPT.LIST_META_CONTEXT;
    const selected =
      (list && parsed.queries.length === 0) || parsed.queries.some((q) => q === "base:" || q === BASE_ALLOCATION);
    if (selected) {
      const reply = Buffer.alloc(4 + BASE_ALLOCATION.length);
      reply.writeUInt32BE(list ? 0 : BASE_ALLOCATION_ID, 0);
      reply.write(BASE_ALLOCATION, 4);
      this.reply(option, REP.META_CONTEXT, reply);
    }
    // "Issuing this command replaces all previously-set metadata contexts."
    if (!list) this.metaContextExport = selected ? parsed.exportName : undefined;
    this.reply(option, REP.ACK);
  }

  /** NBD_OPT_STARTTLS (proto.md "TLS support", FORCEDTLS and SELECTIVETLS modes). */
  private startTls(data: Buffer): void {
    const option = OPT.STARTTLS;
    if (this.security.tls === "off") return this.error(option, REP.ERR_POLICY, "TLS is not enabled on this server");
    if (this.tls) return this.error(option, REP.ERR_INVALID, "TLS is already negotiated");
    if (data.length !== 0) return this.error(option, REP.ERR_INVALID, "NBD_OPT_STARTTLS takes no data");
    this.reply(option, REP.ACK);
    // What was negotiated in plaintext could have been forged: it starts over under TLS.
    this.structuredReplies = false;
    this.metaContextExport = undefined;
    this.awaitingTls = true;
    const rest = this.buffered;
    this.buffered = Buffer.alloc(0);
    this.io.startTls(rest);
  }

  /** Whether this client's identity may open `name` at all (NBD_OPT_LIST shows only those). */
  private mayOpen(name: string): boolean {
    return !this.security.access || this.security.access.grant(this.tls?.identity, name) !== undefined;
  }

  /**
   * The export `name` as this client may open it. Access is checked before
   * the export is looked up, so a refused client learns nothing of which exist.
   */
  private open(name: string): Opened {
    const { access } = this.security;
    const grant = access ? access.grant(this.tls?.identity, name) : "rw";
    if (!grant) {
      const who = this.tls?.identity === undefined ? "a client without a TLS identity" : `identity "${this.tls.identity}"`;
      this.log.warn("export refused by the access list", { export: name, identity: this.tls?.identity });
      return { error: REP.ERR_POLICY, message: `${who} may not open export "${name}"` };
    }
    let exp: ExportInfo | undefined;
    try {
      exp = this.provider.describe(name);
    } catch (err) {
      this.log.warn("export refused", { export: name, error: (err as Error).message });
      return { error: REP.ERR_POLICY, message: `export "${name}" cannot be opened: ${(err as Error).message}` };
    }
    if (!exp) return { error: REP.ERR_UNKNOWN, message: `export "${name}" does not exist` };
    return { exp: grant === "ro" && !exp.readOnly ? { ...exp, readOnly: true } : exp };
  }

  private finish(negotiated: Negotiated): void {
    this.done = true;
    const rest = this.buffered;
    this.buffered = Buffer.alloc(0);
    this.log.debug("handshake complete", { export: negotiated.export.name, structured: negotiated.structuredReplies });
    this.io.enterTransmission(negotiated, rest);
  }
}

function u16(value: number): Buffer {
  const buf = Buffer.alloc(2);
  buf.writeUInt16BE(value, 0);
  return buf;
}

function lengthPrefixed(text: string): Buffer {
  const bytes = Buffer.from(text);
  const buf = Buffer.alloc(4 + bytes.length);
  buf.writeUInt32BE(bytes.length, 0);
  bytes.copy(buf, 4);
  return buf;
}

/** Parses the export name and queries of a meta context option; a string is an error. */
export function parseMetaQuery(data: Buffer): { exportName: string; queries: string[] } | string {
  if (data.length < 8) return "truncated meta context request";
  const nameLength = data.readUInt32BE(0);
  if (nameLength > MAX_STRING || 4 + nameLength + 4 > data.length) return "bad export name length";
  const exportName = data.toString("utf8", 4, 4 + nameLength);
  const count = data.readUInt32BE(4 + nameLength);
  const queries: string[] = [];
  let at = 8 + nameLength;
  for (let i = 0; i < count; i++) {
    if (at + 4 > data.length) return "truncated query list";
    const length = data.readUInt32BE(at);
    if (length > MAX_STRING || at + 4 + length > data.length) return "bad query length";
    queries.push(data.toString("utf8", at + 4, at + 4 + length));
    at += 4 + length;
  }
  if (at !== data.length) return "trailing bytes after queries";
  return { exportName, queries };
}
