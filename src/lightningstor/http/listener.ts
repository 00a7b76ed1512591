import { STATUS_CODES } from "node:http";
import type { Socket, SocketHandler } from "bun";
import type { ServerCertificate } from "../../http/server-certificate.ts";
import { noteTlsOnPlaintext, tlsAcceptor } from "../../http/tls-accept.ts";
import type { ListenAddress } from "../../http/serve.ts";
import { enlargeSendBuffer, sendFrom, socketFd } from "../../util/linux.ts";
import type { Logger } from "../../util/log.ts";
import { filePartStream, sendFilePart } from "./file-send.ts";
import { DEFAULT_LIMITS, HEAD_TIMEOUT, TOO_MANY, type CutReason, type ListenerLimits } from "./listener-limits.ts";
import { RequestBody } from "./request-body.ts";
import { HttpError, parseHead, type RequestHead } from "./request-head.ts";
import type { ListenerResponse, PartsResponse } from "./response-body.ts";

/** A fetch-style handler that also gets the raw request target. */
export type RawTargetHandler = (request: Request, rawTarget: string) => Promise<ListenerResponse>;

/** Idle keep-alive connections are closed after this. */
const IDLE_SECONDS = 60;

/**
 * The send buffer of a connection that sends a file body. Larger than the
 * default, so a big body needs fewer wake-ups; not so large that one sendfile
 * takes a whole 4 MiB chunk, leaving its CRC check (see file-send.ts) nothing
 * to overlap with. Measured best of 0.5, 1, 2 and 4 MiB for 4 and 256 MiB GETs.
 */
const SEND_BUFFER_BYTES = 1024 * 1024;
/** Response body pieces are gathered into writes of about this size. */
const WRITE_BATCH = 1024 * 1024;
const EMPTY: Buffer = Buffer.alloc(0);
const CONTINUE = Buffer.from("HTTP/1.1 100 Continue\r\n\r\n");
const BAD_REQUEST = Buffer.from("HTTP/1.1 400 Bad Request\r\nconnection: close\r\ncontent-length: 0\r\n\r\n");

type HttpSocket = Socket<Connection>;

/** How much of a body answered without it (a refused PUT) is still read, and for how long, before the connection closes. */
const LINGER_BYTES = 64 * 1024 * 1024;
const LINGER_MS = 5_000;

/**
 * The S3 listener: HTTP/1.1 on Bun's TCP sockets. Bun.serve would be simpler,
 * but it normalizes `.`/`..` (even percent-encoded) in request paths, and S3
 * keys are opaque and signed as sent. Owning the connection also lets bodies
 * that lie in files leave with sendfile(2) (see file-send.ts) instead of
 * being copied through JavaScript — except on TLS, where the kernel would
 * send them unencrypted: there they are read, checked and written through
 * the TLS socket (filePartStream).
 */
export async function listenRaw(
  handler: RawTargetHandler,
  listen: ListenAddress,
  log: Logger,
  limits: ListenerLimits = DEFAULT_LIMITS,
  /** Counts each connection cut short by the limits (/metrics). */
  cut: (reason: CutReason) => void = () => {},
  /** Serve HTTPS: each connection is upgraded with the certificate in use when it opens (tls-accept.ts). */
  tls?: ServerCertificate,
): Promise<{ port: number; stop(): Promise<void> }> {
  const connections = new Set<Connection>();
  let refused = 0;
  const handlers: SocketHandler<Connection> = {
    open(socket) {
      socket.setNoDelay(true);
      socket.data = new Connection(socket, handler, log, limits, cut, tls !== undefined);
      if (connections.size < limits.maxConnections) return void connections.add(socket.data);
      if (refused++ % 1000 === 0) log.warn("S3 connections refused: at the connection limit", { limit: limits.maxConnections, refused });
      cut("too-many-connections");
      socket.data.refuse(TOO_MANY);
    },
    data: (socket, data) => socket.data.received(data),
    drain: (socket) => socket.data.drained(),
    end: (socket) => socket.data.clientEnded(),
    timeout(socket) {
      socket.end();
    },
    close(socket) {
      socket.data.closed();
      connections.delete(socket.data);
    },
    error: (_socket, err) => log.debug("S3 connection error", { error: err.message }),
  };
  const listener = Bun.listen<Connection>({
    hostname: listen.hostname,
    port: listen.port,
    // A client may send its request and shut down its side (half-close); it still gets the answer.
    allowHalfOpen: true,
    socket: (tls ? tlsAcceptor(tls, handlers, log) : handlers) as SocketHandler<Connection>,
  });
  return {
    port: listener.port,
    async stop() {
      listener.stop(false);
      await Promise.all([...connections].map((c) => c.finish()));
    },
  };
}

/** One client connection: requests are read and answered one at a time, in order. */
class Connection {
  /** Received bytes not parsed yet (the start of the next request). */
  private pending: Buffer = EMPTY;
  private body?: RequestBody;
  private current?: Promise<void>;
  private ending = false;
  private bigSendBuffer = false;
  private isClosed = false;
  /** Bytes the kernel did not take yet, and who waits for them to go. */
  private unsent: Uint8Array[] = [];
  private flushed: (() => void)[] = [];
  /** Runs from a request's first byte until its head is parsed. */
  private headTimer?: ReturnType<typeof setTimeout>;
  private refused = false;

  constructor(
    private readonly socket: HttpSocket,
    private readonly handler: RawTargetHandler,
    private readonly log: Logger,
    private readonly limits: ListenerLimits,
    private readonly cut: (reason: CutReason) => void,
    /** TLS: bytes must go through the socket's writes, never straight to its descriptor. */
    private readonly encrypted: boolean,
  ) {
    socket.timeout(IDLE_SECONDS);
  }

  /** Answers `response` and closes without reading anything. */
  refuse(response: Buffer): void {
    this.refused = true;
    this.writeLast(response, "a refusal"); // counted and logged by its caller
    this.socket.end();
  }

  /** Writes what no request waits for (a refusal, 100 Continue): a client gone by then is logged, not an error. */
  private writeLast(data: Buffer, what: string): void {
    this.write(data).catch((err: unknown) => this.log.debug(`S3 client went away before ${what} was sent`, { error: String(err) }));
  }

  received(data: Buffer): void {
    if (this.refused) return;
    if (this.body && !this.body.complete) {
      data = this.body.feed(data) ?? EMPTY;
      if (this.body.complete) this.socket.timeout(0);
      if (data.length === 0) return;
    }
    this.pending = this.pending.length === 0 ? data : Buffer.concat([this.pending, data]);
    if (this.current) this.socket.pause(); // a pipelined request waits for the answer to this one
    else this.next();
  }

  drained(): void {
    while (this.unsent.length > 0) {
      const data = this.unsent[0]!;
      const written = this.socket.write(data);
      if (written < data.length) {
        this.unsent[0] = data.subarray(Math.max(0, written));
        return;
      }
      this.unsent.shift();
    }
    for (const resolve of this.flushed.splice(0)) resolve();
  }

  closed(): void {
    this.isClosed = true;
    clearTimeout(this.headTimer);
    this.body?.fail("the connection closed before the body was complete");
    this.drained = () => {};
    for (const resolve of this.flushed.splice(0)) resolve();
  }

  /** The client will send nothing more: answer what is under way, then close. */
  clientEnded(): void {
    this.ending = true;
    this.body?.fail("the client ended the connection before the body was complete");
    if (!this.current) this.socket.end();
  }

  /** Ends the connection once the request at hand (if any) is answered. */
  async finish(): Promise<void> {
    this.ending = true;
    if (this.current) await this.current;
    else this.socket.end();
  }

  private next(): void {
    // A ClientHello never starts an HTTP request: say so in the log rather than wait for a head.
    if (!this.encrypted && noteTlsOnPlaintext(this.socket, this.pending, this.log)) return this.refuse(BAD_REQUEST);
    let head: RequestHead | undefined;
    try {
      head = parseHead(this.pending);
    } catch (err) {
      const status = err instanceof HttpError ? err.status : 400;
      this.log.debug("S3 request head malformed; answering and closing", { status, error: String(err) });
      this.writeLast(Buffer.from(`HTTP/1.1 ${status} ${STATUS_CODES[status]}\r\nconnection: close\r\ncontent-length: 0\r\n\r\n`), "a malformed head's answer");
      this.socket.end();
      return;
    }
    if (!head) {
      this.headTimer ??= setTimeout(() => this.headTimedOut(), this.limits.headerTimeoutMs);
      return;
    }
    clearTimeout(this.headTimer);
    this.headTimer = undefined;
    this.pending = this.pending.subarray(head.size);
    this.current = this.serve(head)
      .catch((err: unknown) => {
        // A client that went away mid-response is no server error.
        const gone = this.isClosed || ["EPIPE", "ECONNRESET"].includes((err as { code?: string }).code ?? "");
        if (gone) this.log.debug("S3 client went away mid-response", { error: String(err) });
        else this.log.error("S3 request failed", { err });
        this.ending = true;
      })
      .finally(() => {
        this.current = undefined;
        if (this.ending || this.isClosed) return void this.socket.end();
        this.socket.timeout(IDLE_SECONDS);
        this.socket.resume();
        if (this.pending.length > 0) this.next();
      });
  }

  /** A head still incomplete at its deadline: 408, and the connection closes. */
  private headTimedOut(): void {
    this.headTimer = undefined;
    if (this.current || this.isClosed) return;
    this.log.debug("S3 request head not received in time; closing the connection", { ms: this.limits.headerTimeoutMs, received: this.pending.length });
    this.cut("head-timeout");
    this.refuse(HEAD_TIMEOUT);
  }

  /** A body behind its minimum rate: its stream has failed (the handler answers RequestTimeout); the connection closes after the answer. */
  private bodyTooSlow(received: number): void {
    this.log.debug("S3 request body too slow; closing the connection after the answer", { received, minBytesPerSecond: this.limits.minBodyBytesPerSecond });
    this.cut("body-too-slow");
    this.ending = true;
  }

  private async serve(head: RequestHead): Promise<void> {
    const { bodyGraceMs: graceMs, minBodyBytesPerSecond: minBytesPerSecond } = this.limits;
    const rate = { graceMs, minBytesPerSecond, tooSlow: (received: number) => this.bodyTooSlow(received) };
    const body = head.body.kind === "none" ? undefined : new RequestBody(head.body, this.socket, rate);
    if (body && head.version === "1.1" && head.headers.get("expect")?.toLowerCase() === "100-continue") {
      // At once, as Node's server does: the client's wait is pure latency. A request
      // refused before its body is read closes the connection after the answer.
      this.writeLast(CONTINUE, "100 Continue"); // a closed connection fails the request anyway
    }
    this.body = body;
    if (body && this.pending.length > 0) {
      this.pending = body.feed(this.pending) ?? EMPTY;
    }
    // A client gets the idle timeout to send its body; after that the time is ours.
    if (!body || body.complete) this.socket.timeout(0);
    const request = new Request(`http://${head.headers.get("host") ?? "localhost"}/`, {
      method: head.method,
      headers: head.headers,
      body: body?.stream,
      duplex: "half",
    } as RequestInit);
    const response = await this.handler(request, head.target);
    // A body the handler left unread would be taken for the next request: close instead…
    const unread = body !== undefined && !body.complete;
    if (unread || body?.failed) this.ending = true;
    const connection = head.headers.get("connection")?.toLowerCase();
    if (connection === "close" || (head.version === "1.0" && connection !== "keep-alive")) this.ending = true;
    await this.respond(head, response);
    // …once what the client still sends of it is read and dropped (up to a bound), as nginx's lingering close does.
    if (unread && !this.isClosed) await body.discardRest(LINGER_BYTES, LINGER_MS);
    body?.fail("answered before the body was read"); // stops its rate timer; a complete body is untouched
    this.body = undefined;
  }

  private async respond(head: RequestHead, response: ListenerResponse): Promise<void> {
    if (response instanceof Response) return this.sendResponse(head, response);
    try {
      await this.sendParts(head, response);
    } finally {
      response.release();
    }
  }

  /** A fetch Response: its body read through JavaScript and written in batches. */
  private async sendResponse(head: RequestHead, response: Response): Promise<void> {
    const bodyless = this.bodyless(head, response.status);
    const reader = bodyless ? undefined : response.body?.getReader();
    if (!reader) await response.body?.cancel();
    // The first batch of the body goes out with the head; a body that ends within it gets a Content-Length.
    const first: Uint8Array[] = [];
    let firstBytes = 0;
    let ended = reader === undefined;
    while (reader && firstBytes < WRITE_BATCH) {
      const { done, value } = await reader.read();
      if (done) {
        ended = true;
        break;
      }
      first.push(value);
      firstBytes += value.length;
    }
    const chunked = !bodyless && !ended && !response.headers.has("content-length");
    const text = this.headText(head, response.status, response.headers, bodyless ? undefined : chunked ? "chunked" : firstBytes);
    const frame = (pieces: Uint8Array[], bytes: number): Uint8Array[] => (chunked && bytes > 0 ? [Buffer.from(`${bytes.toString(16)}\r\n`), ...pieces, Buffer.from("\r\n")] : pieces);
    await this.write(Buffer.concat([Buffer.from(text, "latin1"), ...frame(first, firstBytes)]));
    let batch: Uint8Array[] = [];
    let batched = 0;
    while (!ended) {
      const { done, value } = await reader!.read();
      if (!done) {
        batch.push(value);
        batched += value.length;
      }
      if (batched >= WRITE_BATCH || (done && batched > 0)) {
        const pieces = frame(batch, batched);
        await this.write(pieces.length === 1 ? pieces[0]! : Buffer.concat(pieces)); // a big piece goes as it is
        batch = [];
        batched = 0;
      }
      ended = done;
    }
    if (chunked) await this.write(Buffer.from("0\r\n\r\n"));
  }

  /**
   * A body of parts of known length: file parts leave with sendfile, streamed
   * parts are gathered into batches; the head goes with the first bytes.
   */
  private async sendParts(head: RequestHead, response: PartsResponse): Promise<void> {
    const bodyless = this.bodyless(head, response.status);
    const length = response.parts.reduce((sum, part) => sum + part.length, 0);
    let batch: Uint8Array[] = [Buffer.from(this.headText(head, response.status, response.headers, bodyless ? undefined : length), "latin1")];
    let batched = batch[0]!.length;
    const take = (): Uint8Array => {
      const data = batch.length === 1 ? batch[0]! : Buffer.concat(batch); // a big piece goes as it is
      batch = [];
      batched = 0;
      return data;
    };
    for (const sent of bodyless ? [] : response.parts) {
      const part = this.encrypted && sent.kind === "file" ? filePartStream(sent) : sent;
      if (part.kind === "stream") {
        for await (const piece of part.pieces) {
          batch.push(piece);
          batched += piece.length;
          if (batched >= WRITE_BATCH) await this.write(take());
        }
        continue;
      }
      const fd = socketFd(this.socket);
      if (!this.bigSendBuffer) {
        enlargeSendBuffer(fd, SEND_BUFFER_BYTES);
        this.bigSendBuffer = true;
      }
      if (batched > 0) {
        // What is gathered (the head, at first) waits (MSG_MORE) to leave in one segment with the file's first bytes.
        const data = take();
        const sent = this.unsent.length === 0 && !this.isClosed ? Math.max(0, sendFrom(fd, data, 0, data.length, true)) : 0;
        await this.write(data.subarray(sent));
      }
      await sendFilePart({ fd, write: (data) => this.write(data) }, part);
    }
    if (batched > 0) await this.write(take());
  }

  private bodyless(head: RequestHead, status: number): boolean {
    return head.method === "HEAD" || status === 204 || status === 304;
  }

  /** The status line and headers; `length` is the body's, "chunked", or undefined for no body. */
  private headText(head: RequestHead, status: number, responseHeaders: Headers, length: number | "chunked" | undefined): string {
    const headers = new Headers(responseHeaders);
    headers.delete("connection");
    headers.delete("transfer-encoding");
    if (length === "chunked") headers.set("transfer-encoding", "chunked");
    else if (length !== undefined && !headers.has("content-length")) headers.set("content-length", String(length));
    headers.set("date", new Date().toUTCString());
    if (this.ending) headers.set("connection", "close");
    else if (head.version === "1.0") headers.set("connection", "keep-alive");
    let text = `HTTP/1.1 ${status} ${STATUS_CODES[status] ?? ""}\r\n`;
    for (const [name, value] of headers) text += `${name}: ${value}\r\n`;
    return `${text}\r\n`;
  }

  /** Writes what the kernel takes now; the promise resolves once all of it has gone. */
  private write(data: Uint8Array): Promise<void> {
    if (this.isClosed) return Promise.reject(new Error("the client closed the connection"));
    if (this.unsent.length === 0) {
      const written = this.socket.write(data);
      if (written === data.length) return Promise.resolve();
      data = data.subarray(Math.max(0, written));
    }
    this.unsent.push(data);
    return new Promise((resolve) => this.flushed.push(resolve));
  }
}
