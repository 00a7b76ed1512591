import { ptr, type Pointer } from "bun:ffi";
import type { TlsContext } from "./context.ts";
import { cstr, openssl, readCString, SSL, takeErrors, TlsError } from "./openssl.ts";

/** The raw OpenSSL objects of a session, to hand it to another thread (an NBD I/O worker). */
export interface TlsHandle {
  ssl: number;
}

/** SSL_write takes at most this much at once; larger writes are split. */
const WRITE_SLICE = 256 * 1024;

/**
 * One TLS connection over memory BIOs: the caller moves ciphertext between
 * the socket and the session itself (`pushCiphertext`, `readCiphertext`), so
 * a session works the same on Bun's event loop (the NBD handshake, the
 * client) and in an I/O worker doing blocking socket calls. The handshake
 * runs inside `readPlaintext`. A session is used by one thread at a time.
 */
export class TlsSession {
  private readonly rbio: Pointer;
  private readonly wbio: Pointer;

  private constructor(
    readonly ssl: Pointer,
    /** The context it was made from, when on the thread that made it (not after a hand-over). */
    private readonly context?: TlsContext,
  ) {
    this.rbio = openssl().ssl.SSL_get_rbio(ssl) as Pointer;
    this.wbio = openssl().ssl.SSL_get_wbio(ssl) as Pointer;
  }

  /** A new server or client session; `serverName` (client) is checked against the certificate and sent as SNI. */
  static create(context: TlsContext, serverName?: string): TlsSession {
    const { ssl, crypto } = openssl();
    const handle = ssl.SSL_new(context.ctx) as Pointer | null;
    if (!handle) throw new TlsError(takeErrors("SSL_new failed"));
    // The SSL object owns both BIOs from here on (SSL_free frees them).
    ssl.SSL_set_bio(handle, crypto.BIO_new(crypto.BIO_s_mem() as Pointer) as Pointer, crypto.BIO_new(crypto.BIO_s_mem() as Pointer) as Pointer);
    const session = new TlsSession(handle, context);
    if (context.role === "server") ssl.SSL_set_accept_state(handle);
    else {
      ssl.SSL_set_connect_state(handle);
      if (serverName) {
        ssl.SSL_ctrl(handle, SSL.CTRL_SET_TLSEXT_HOSTNAME, SSL.TLSEXT_NAMETYPE_host_name, cstr(serverName));
        if (context.verifiesPeer) ssl.SSL_set1_host(handle, cstr(serverName));
      }
      session.readPlaintext(Buffer.alloc(0), 0, 0); // queues the ClientHello
    }
    return session;
  }

  /** A session handed over from another thread. */
  static adopt(handle: TlsHandle): TlsSession {
    return new TlsSession(handle.ssl as unknown as Pointer);
  }

  /** What another thread needs to continue this session; this object must not be used afterwards. */
  handOver(): TlsHandle {
    return { ssl: this.ssl as unknown as number };
  }

  get handshakeDone(): boolean {
    return openssl().ssl.SSL_is_init_finished(this.ssl) === 1;
  }

  /** Hands received ciphertext to the session. */
  pushCiphertext(data: Uint8Array, offset: number, length: number): void {
    if (length === 0) return;
    // A memory BIO takes everything it is given.
    openssl().crypto.BIO_write(this.rbio, ptr(data, offset), length);
  }

  /**
   * Decrypts into `into[offset, offset+capacity)`: the bytes written, 0 when
   * more ciphertext is needed (or the handshake is still running), -1 once the
   * peer closed TLS (close_notify). Throws a {@link TlsError} on a failed
   * handshake or a bad record.
   */
  readPlaintext(into: Uint8Array, offset: number, capacity: number): number {
    const { ssl } = openssl();
    const n = capacity > 0 ? ssl.SSL_read(this.ssl, ptr(into, offset), capacity) : ssl.SSL_do_handshake(this.ssl);
    if (n > 0) return capacity > 0 ? n : 0;
    const error = ssl.SSL_get_error(this.ssl, n);
    if (error === SSL.ERROR_WANT_READ || error === SSL.ERROR_WANT_WRITE) return 0;
    if (error === SSL.ERROR_ZERO_RETURN) return -1;
    if (error === SSL.ERROR_NONE) return 0;
    throw new TlsError(this.describeFailure());
  }

  /** Encrypts all of `data[offset, offset+length)`; the records wait in the session for `readCiphertext`. */
  writePlaintext(data: Uint8Array, offset: number, length: number): void {
    const { ssl } = openssl();
    for (let done = 0; done < length; ) {
      const n = ssl.SSL_write(this.ssl, ptr(data, offset + done), Math.min(WRITE_SLICE, length - done));
      if (n <= 0) throw new TlsError(takeErrors("TLS write failed"));
      done += n;
    }
  }

  /** Takes up to `capacity` bytes of ciphertext to send; 0 when there is none. */
  readCiphertext(into: Uint8Array, offset: number, capacity: number): number {
    const n = openssl().crypto.BIO_read(this.wbio, ptr(into, offset), capacity);
    return n > 0 ? n : 0;
  }

  /** All ciphertext waiting to be sent, or undefined. */
  takeCiphertext(): Buffer | undefined {
    const parts: Buffer[] = [];
    for (;;) {
      const chunk = Buffer.allocUnsafe(64 * 1024);
      const n = this.readCiphertext(chunk, 0, chunk.length);
      if (n === 0) break;
      parts.push(chunk.subarray(0, n));
    }
    return parts.length === 0 ? undefined : parts.length === 1 ? parts[0] : Buffer.concat(parts);
  }

  /** The client's PSK identity, or (when client certificates are verified) its certificate's common name. */
  peerIdentity(): string | undefined {
    const { ssl, crypto } = openssl();
    const psk = this.context?.takePskIdentity(this.ssl) ?? readCString(ssl.SSL_get_psk_identity(this.ssl));
    if (psk !== undefined) return psk;
    const cert = ssl.SSL_get1_peer_certificate(this.ssl) as Pointer | null;
    if (!cert) return undefined;
    try {
      const text = Buffer.alloc(256);
      const n = crypto.X509_NAME_get_text_by_NID(crypto.X509_get_subject_name(cert) as Pointer, SSL.NID_commonName, text, text.length);
      return n > 0 ? text.toString("utf8", 0, n) : undefined;
    } finally {
      crypto.X509_free(cert);
    }
  }

  /** The protocol version negotiated ("TLSv1.3"). */
  version(): string {
    return readCString(openssl().ssl.SSL_get_version(this.ssl)) ?? "unknown";
  }

  /** Queues close_notify (send it with `takeCiphertext`). */
  shutdown(): void {
    openssl().ssl.SSL_shutdown(this.ssl);
    openssl().crypto.ERR_clear_error();
  }

  /** Frees the session and its BIOs. */
  free(): void {
    this.context?.takePskIdentity(this.ssl);
    openssl().ssl.SSL_free(this.ssl);
  }

  private describeFailure(): string {
    const { ssl, crypto } = openssl();
    const message = takeErrors("TLS connection failed");
    const verify = Number(ssl.SSL_get_verify_result(this.ssl));
    if (verify === 0) return message;
    return `${message} (${readCString(crypto.X509_verify_cert_error_string(verify)) ?? `verify error ${verify}`})`;
  }
}
