import type { Socket } from "bun";
import { TlsContext, type TlsClientCredentials } from "../tls/context.ts";
import { TlsError } from "../tls/openssl.ts";
import { TlsSession } from "../tls/session.ts";
import type { ByteReader } from "./byte-reader.ts";
import { NbdClientError } from "./client-error.ts";
import type { NbdEndpoint } from "./uri.ts";

/**
 * The NBD client's byte stream: a Bun socket, with writes the kernel did not
 * take kept in order until it drains, and (after NBD_OPT_STARTTLS) TLS in
 * between. Received plaintext goes to the client's {@link ByteReader}.
 */
export class ClientConnection {
  private socket!: Socket<undefined>;
  /** Bytes the socket did not take yet, sent on drain in order. */
  private unsent: Uint8Array[] = [];
  /** Set once STARTTLS was acknowledged; `up` settles when the TLS handshake ends. */
  private tls: { context: TlsContext; session: TlsSession; up: PromiseWithResolvers<void> } | undefined;

  private constructor(
    private readonly reader: ByteReader,
    private readonly onFailure: (error: NbdClientError) => void,
  ) {}

  /** Connects; `onFailure` hears of a closed or broken connection. */
  static async open(endpoint: NbdEndpoint, reader: ByteReader, onFailure: (error: NbdClientError) => void): Promise<ClientConnection> {
    const connection = new ClientConnection(reader, onFailure);
    const handlers = {
      data: (_s: Socket<undefined>, chunk: Buffer) => connection.receive(chunk),
      drain: () => connection.drain(),
      close: () => {
        onFailure(new NbdClientError("connection closed by the server"));
        connection.freeTls();
      },
      error: (_s: Socket<undefined>, err: Error) => onFailure(new NbdClientError(`connection error: ${err.message}`)),
    };
    connection.socket = "socket" in endpoint
      ? await Bun.connect({ unix: endpoint.socket, socket: handlers })
      : await Bun.connect({ hostname: endpoint.host, port: endpoint.port, socket: handlers });
    return connection;
  }

  /** Runs the TLS handshake (the server acknowledged NBD_OPT_STARTTLS); everything after goes through TLS. */
  async startTls(credentials: TlsClientCredentials): Promise<void> {
    const context = TlsContext.client(credentials);
    this.tls = { context, session: TlsSession.create(context, credentials.serverName), up: Promise.withResolvers<void>() };
    this.flushTls();
    await this.tls.up.promise;
  }

  send(data: Uint8Array): void {
    if (!this.tls) return this.sendRaw(data);
    this.tls.session.writePlaintext(data, 0, data.length);
    this.flushTls();
  }

  /** Ends the connection (after TLS's close_notify). */
  end(): void {
    this.tls?.session.shutdown();
    this.flushTls();
    this.socket.end();
  }

  /** Bytes from the socket: straight to the reader, or through TLS. */
  private receive(chunk: Buffer): void {
    const tls = this.tls;
    if (!tls) return this.reader.push(chunk);
    try {
      tls.session.pushCiphertext(chunk, 0, chunk.length);
      for (;;) {
        const plain = Buffer.allocUnsafe(64 * 1024);
        const n = tls.session.readPlaintext(plain, 0, plain.length);
        if (n === -1) return this.onFailure(new NbdClientError("server closed TLS"));
        if (n === 0) break;
        this.reader.push(plain.subarray(0, n));
      }
      this.flushTls();
      if (tls.session.handshakeDone) tls.up.resolve();
    } catch (err) {
      if (!(err instanceof TlsError)) throw err;
      const error = new NbdClientError(`TLS handshake with the server failed: ${err.message}`);
      tls.up.reject(error);
      this.onFailure(error);
      this.socket.end();
    }
  }

  private flushTls(): void {
    const out = this.tls?.session.takeCiphertext();
    if (out) this.sendRaw(out);
  }

  private freeTls(): void {
    this.tls?.session.free();
    this.tls?.context.free();
    this.tls = undefined;
  }

  private sendRaw(data: Uint8Array): void {
    if (this.unsent.length > 0) {
      this.unsent.push(Buffer.from(data));
      return;
    }
    const written = Math.max(this.socket.write(data), 0);
    if (written < data.length) this.unsent.push(Buffer.from(data.subarray(written)));
  }

  private drain(): void {
    while (this.unsent.length > 0) {
      const head = this.unsent[0]!;
      const written = Math.max(this.socket.write(head), 0);
      if (written < head.length) {
        this.unsent[0] = head.subarray(written);
        return;
      }
      this.unsent.shift();
    }
  }
}
