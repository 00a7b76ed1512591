import type { TlsClientCredentials } from "../tls/context.ts";
import { ByteReader } from "./byte-reader.ts";
import { ClientConnection } from "./client-connection.ts";
import { NbdClientError } from "./client-error.ts";
import { parseNbdUri, type NbdTarget } from "./uri.ts";
import {
  type NbdExtent,
  BASE_ALLOCATION,
  CMD,
  CMD_FLAG,
  commandName,
  FLAG_C_FIXED_NEWSTYLE,
  FLAG_C_NO_ZEROES,
  FLAG_FIXED_NEWSTYLE,
  FLAG_NO_ZEROES,
  IHAVEOPT,
  INFO,
  NBDMAGIC,
  OPT,
  OPTION_REPLY_MAGIC,
  readU64,
  REP,
  REPLY_FLAG_DONE,
  REPLY_TYPE,
  SIMPLE_REPLY_MAGIC,
  STRUCTURED_REPLY_MAGIC,
  TF,
  writeU64,
} from "./protocol.ts";

/** The client's errors are part of its API. */
export { NbdClientError } from "./client-error.ts";

/** Options of {@link NbdClient.connect}. */
export interface NbdClientOptions {
  /** Requests in flight at most (default 16). */
  window?: number;
  /** Negotiate structured replies (default true). */
  structuredReplies?: boolean;
  /** Select the base:allocation meta context (default true; needs structured replies). */
  baseAllocation?: boolean;
  /** Negotiate TLS with these credentials (overrides the URI's). */
  tls?: TlsClientCredentials;
}

interface Pending {
  type: number;
  offset: number;
  length: number;
  resolve(value: Buffer | NbdExtent[] | undefined): void;
  reject(error: Error): void;
  /** READ data assembled from chunks (into the caller's buffer when it gave one); BLOCK_STATUS extents. */
  data?: Buffer;
  extents?: NbdExtent[];
  error?: NbdClientError;
}

/**
 * Photon's NBD client: fixed newstyle handshake with NBD_OPT_GO, structured
 * replies and base:allocation when the server offers them, and pipelined
 * requests with a bounded window (replies may come back in any order).
 */
export class NbdClient {
  size = 0;
  flags = 0;
  structuredReplies = false;
  baseAllocation = false;
  blockSizes = { minimum: 1, preferred: 4096, maximum: 32 * 1024 * 1024 };

  private readonly reader = new ByteReader();
  private connection!: ClientConnection;
  private readonly pending = new Map<number, Pending>();
  private nextHandle = 1;
  private inFlight = 0;
  private readonly slotWaiters: (() => void)[] = [];
  private readonly outstanding = new Set<Promise<unknown>>();
  private closed = false;

  private constructor(private readonly options: NbdClientOptions) {
    this.window = options.window ?? 16;
  }
  private readonly window: number;

  /** Connects and negotiates; rejects with a clear error when the export is refused. */
  static async connect(target: NbdTarget, options: NbdClientOptions = {}): Promise<NbdClient> {
    const t = "uri" in target ? parseNbdUri(target.uri) : target;
    const client = new NbdClient(options);
    client.connection = await ClientConnection.open(t, client.reader, (error) => client.fail(error));
    try {
      const tls = options.tls ?? t.tls;
      await client.handshake(t.exportName, tls && { ...tls, serverName: tls.serverName ?? ("host" in t ? t.host : undefined) });
    } catch (err) {
      client.connection.end();
      throw err;
    }
    void client.receiveLoop();
    return client;
  }

  private async handshake(exportName: string, tls: TlsClientCredentials | undefined): Promise<void> {
    const hello = await this.reader.read(18);
    if (hello.readBigUInt64BE(0) !== NBDMAGIC || hello.readBigUInt64BE(8) !== IHAVEOPT) throw new NbdClientError("not a newstyle NBD server");
    const serverFlags = hello.readUInt16BE(16);
    if (!(serverFlags & FLAG_FIXED_NEWSTYLE)) throw new NbdClientError("server does not speak fixed newstyle");
    const clientFlags = Buffer.alloc(4);
    clientFlags.writeUInt32BE(FLAG_C_FIXED_NEWSTYLE | (serverFlags & FLAG_NO_ZEROES ? FLAG_C_NO_ZEROES : 0));
    this.send(clientFlags);
    // "A client that prefers to use TLS ... SHOULD send NBD_OPT_STARTTLS as the first option" (proto.md).
    if (tls) await this.startTls(tls);

    if (this.options.structuredReplies !== false) {
      const structured = await this.option(OPT.STRUCTURED_REPLY, Buffer.alloc(0));
      this.structuredReplies = structured.every((r) => r.type === REP.ACK);
    }
    if (this.structuredReplies && this.options.baseAllocation !== false) {
      const name = Buffer.from(exportName);
      const query = Buffer.from(BASE_ALLOCATION);
      const data = Buffer.alloc(4 + name.length + 4 + 4 + query.length);
      data.writeUInt32BE(name.length, 0);
      name.copy(data, 4);
      data.writeUInt32BE(1, 4 + name.length);
      data.writeUInt32BE(query.length, 8 + name.length);
      query.copy(data, 12 + name.length);
      const replies = await this.option(OPT.SET_META_CONTEXT, data);
      this.baseAllocation = replies.some((r) => r.type === REP.META_CONTEXT && r.data.toString("utf8", 4) === BASE_ALLOCATION);
    }

    const name = Buffer.from(exportName);
    const go = Buffer.alloc(4 + name.length + 2 + 4);
    go.writeUInt32BE(name.length, 0);
    name.copy(go, 4);
    go.writeUInt16BE(2, 4 + name.length);
    go.writeUInt16BE(INFO.BLOCK_SIZE, 6 + name.length);
    go.writeUInt16BE(INFO.NAME, 8 + name.length);
    const replies = await this.option(OPT.GO, go);
    const failure = replies.find((r) => r.type & 0x8000_0000);
    if (failure) throw new NbdClientError(`export "${exportName}" refused: ${failure.data.toString() || `error 0x${failure.type.toString(16)}`}`);
    for (const reply of replies) {
      if (reply.type !== REP.INFO || reply.data.length < 2) continue;
      const info = reply.data.readUInt16BE(0);
      if (info === INFO.EXPORT && reply.data.length >= 12) {
        this.size = readU64(reply.data, 2);
        this.flags = reply.data.readUInt16BE(10);
      } else if (info === INFO.BLOCK_SIZE && reply.data.length >= 14) {
        this.blockSizes = { minimum: reply.data.readUInt32BE(2), preferred: reply.data.readUInt32BE(6), maximum: reply.data.readUInt32BE(10) };
      }
    }
  }

  /** NBD_OPT_STARTTLS, then the TLS handshake; a refusal or a failed handshake ends the session. */
  private async startTls(credentials: TlsClientCredentials): Promise<void> {
    const [reply] = await this.option(OPT.STARTTLS, Buffer.alloc(0));
    if (reply!.type !== REP.ACK) throw new NbdClientError(`server refused TLS: ${reply!.data.toString() || `error 0x${reply!.type.toString(16)}`}`);
    await this.connection.startTls(credentials);
  }

  /** Sends an option and collects its replies up to the final one. */
  private async option(option: number, data: Buffer): Promise<{ type: number; data: Buffer }[]> {
    const header = Buffer.alloc(16);
    header.writeBigUInt64BE(IHAVEOPT, 0);
    header.writeUInt32BE(option, 8);
    header.writeUInt32BE(data.length, 12);
    this.send(Buffer.concat([header, data]));
    const replies: { type: number; data: Buffer }[] = [];
    for (;;) {
      const head = await this.reader.read(20);
      if (head.readBigUInt64BE(0) !== OPTION_REPLY_MAGIC) throw new NbdClientError("bad option reply magic");
      const type = head.readUInt32BE(12);
      const body = await this.reader.read(head.readUInt32BE(16));
      replies.push({ type, data: body });
      if (type === REP.ACK || type & 0x8000_0000) return replies;
    }
  }

  get readOnly(): boolean {
    return (this.flags & TF.READ_ONLY) !== 0;
  }

  // ---- commands ----

  /** Reads [offset, offset + length); into `into` (at least `length` bytes) when given, so a caller can reuse its buffers. */
  async read(offset: number, length: number, into?: Buffer): Promise<Buffer> {
    return (await this.request(CMD.READ, 0, offset, length, undefined, into?.subarray(0, length))) as Buffer;
  }

  async write(offset: number, data: Uint8Array, options: { fua?: boolean } = {}): Promise<void> {
    await this.request(CMD.WRITE, options.fua ? CMD_FLAG.FUA : 0, offset, data.length, data);
  }

  async flush(): Promise<void> {
    await this.request(CMD.FLUSH, 0, 0, 0);
  }

  async trim(offset: number, length: number): Promise<void> {
    await this.request(CMD.TRIM, 0, offset, length);
  }

  async writeZeroes(offset: number, length: number, options: { noHole?: boolean; fast?: boolean; fua?: boolean } = {}): Promise<void> {
    const flags = (options.noHole ? CMD_FLAG.NO_HOLE : 0) | (options.fast ? CMD_FLAG.FAST_ZERO : 0) | (options.fua ? CMD_FLAG.FUA : 0);
    await this.request(CMD.WRITE_ZEROES, flags, offset, length);
  }

  async cache(offset: number, length: number): Promise<void> {
    await this.request(CMD.CACHE, 0, offset, length);
  }

  /** base:allocation extents from `offset` (the server may answer less than `length`). */
  async blockStatus(offset: number, length: number, options: { reqOne?: boolean } = {}): Promise<NbdExtent[]> {
    if (!this.baseAllocation) throw new NbdClientError("server did not negotiate base:allocation");
    return (await this.request(CMD.BLOCK_STATUS, options.reqOne ? CMD_FLAG.REQ_ONE : 0, offset, length)) as NbdExtent[];
  }

  /** Sends any request, raw: for tests of server validation. Resolves with READ data or extents. */
  async request(type: number, flags: number, offset: number, length: number, payload?: Uint8Array, into?: Buffer): Promise<Buffer | NbdExtent[] | undefined> {
    if (this.closed) throw new NbdClientError("connection is closed");
    await this.slot();
    const handle = this.nextHandle++;
    const header = Buffer.alloc(28);
    header.writeUInt32BE(0x25609513, 0);
    header.writeUInt16BE(flags, 4);
    header.writeUInt16BE(type, 6);
    header.writeUInt32BE(handle, 12);
    writeU64(header, offset, 16);
    header.writeUInt32BE(length, 24);
    const result = new Promise<Buffer | NbdExtent[] | undefined>((resolve, reject) => {
      this.pending.set(handle, { type, offset, length, resolve, reject, data: into });
    });
    this.send(header);
    if (payload) this.send(payload);
    this.outstanding.add(result);
    try {
      return await result;
    } finally {
      this.outstanding.delete(result);
      this.release();
    }
  }

  private send(data: Uint8Array): void {
    this.connection.send(data);
  }

  private slot(): Promise<void> {
    if (this.inFlight < this.window) {
      this.inFlight++;
      return Promise.resolve();
    }
    return new Promise((resolve) => this.slotWaiters.push(() => resolve()));
  }

  private release(): void {
    const next = this.slotWaiters.shift();
    if (next) next();
    else this.inFlight--;
  }

  /** Sends NBD_CMD_DISC after the replies in flight, then closes. */
  async close(): Promise<void> {
    if (this.closed) return;
    await Promise.allSettled([...this.outstanding]);
    const disc = Buffer.alloc(28);
    disc.writeUInt32BE(0x25609513, 0);
    disc.writeUInt16BE(CMD.DISC, 6);
    this.closed = true;
    this.send(disc);
    this.connection.end();
  }

  // ---- replies ----

  private fail(error: Error): void {
    this.closed = true;
    this.reader.fail(error);
    for (const p of this.pending.values()) p.reject(error);
    this.pending.clear();
  }

  private async receiveLoop(): Promise<void> {
    try {
      for (;;) {
        const magicBuf = await this.reader.read(4);
        const magic = magicBuf.readUInt32BE(0);
        if (magic === SIMPLE_REPLY_MAGIC) await this.simpleReply();
        else if (magic === STRUCTURED_REPLY_MAGIC) await this.structuredChunk();
        else throw new NbdClientError(`bad reply magic 0x${magic.toString(16)}`);
      }
    } catch (err) {
      this.fail(err instanceof Error ? err : new Error(String(err)));
    }
  }

  private take(handle: number): Pending {
    const p = this.pending.get(handle);
    if (!p) throw new NbdClientError(`reply for unknown handle ${handle}`);
    return p;
  }

  private async simpleReply(): Promise<void> {
    const rest = await this.reader.read(12);
    const error = rest.readUInt32BE(0);
    const handle = rest.readUInt32BE(8);
    const p = this.take(handle);
    this.pending.delete(handle);
    if (error !== 0) return p.reject(new NbdClientError(`${commandName(p.type)} at ${p.offset}+${p.length}: server error ${error}`, error));
    if (p.type !== CMD.READ) return p.resolve(undefined);
    const data = await this.reader.read(p.length);
    if (!p.data) return p.resolve(data);
    data.copy(p.data);
    p.resolve(p.data);
  }

  private async structuredChunk(): Promise<void> {
    const rest = await this.reader.read(16);
    const flags = rest.readUInt16BE(0);
    const type = rest.readUInt16BE(2);
    const handle = rest.readUInt32BE(8);
    const length = rest.readUInt32BE(12);
    const payload = await this.reader.read(length);
    const p = this.take(handle);
    if (type === REPLY_TYPE.OFFSET_DATA) {
      p.data ??= Buffer.alloc(p.length);
      payload.copy(p.data, readU64(payload, 0) - p.offset, 8);
    } else if (type === REPLY_TYPE.OFFSET_HOLE) {
      const start = readU64(payload, 0) - p.offset;
      if (p.data) p.data.fill(0, start, start + payload.readUInt32BE(8));
      else p.data = Buffer.alloc(p.length); // holes read as the zeros already there
    } else if (type === REPLY_TYPE.BLOCK_STATUS) {
      p.extents ??= [];
      for (let at = 4; at + 8 <= payload.length; at += 8) p.extents.push({ length: payload.readUInt32BE(at), flags: payload.readUInt32BE(at + 4) });
    } else if (type & 0x8000) {
      const errno = payload.readUInt32BE(0);
      const message = payload.toString("utf8", 6, 6 + payload.readUInt16BE(4));
      p.error ??= new NbdClientError(`${commandName(p.type)} at ${p.offset}+${p.length}: ${message || "server error"} (errno ${errno})`, errno);
    }
    if (!(flags & REPLY_FLAG_DONE)) return;
    this.pending.delete(handle);
    if (p.error) return p.reject(p.error);
    if (p.type === CMD.READ) return p.resolve(p.data ?? Buffer.alloc(p.length));
    if (p.type === CMD.BLOCK_STATUS) return p.resolve(p.extents ?? []);
    p.resolve(undefined);
  }
}
