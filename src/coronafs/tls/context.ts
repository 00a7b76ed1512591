import { JSCallback, toArrayBuffer, type Pointer } from "bun:ffi";
import { cstr, openssl, readCString, SSL, takeErrors, TlsError } from "./openssl.ts";
import type { PskKeys } from "./psk-file.ts";

/** Server credentials: an X.509 certificate and/or a PSK file's keys. */
export interface TlsServerCredentials {
  x509?: { certFile: string; keyFile: string; /** Require and verify client certificates against this CA. */ clientCaFile?: string };
  psk?: PskKeys;
}

/** Client credentials: a PSK identity, and/or a CA to verify the server (optionally a client certificate). */
export interface TlsClientCredentials {
  psk?: { identity: string; key: Buffer };
  caFile?: string;
  certFile?: string;
  keyFile?: string;
  /** The name the server's certificate must carry (and SNI); default: the host connected to. */
  serverName?: string;
}

/**
 * An SSL_CTX with its settings: TLS 1.2 at least (proto.md "TLS versions"),
 * no renegotiation, no session tickets (NBD sessions are long and never
 * resumed, and a ticket would be one more message after the handshake).
 * Sessions (session.ts) are made from it; `free` releases it once none is left.
 */
export class TlsContext {
  private readonly callbacks: JSCallback[] = [];
  /**
   * The PSK identity each server session's callback accepted, by SSL pointer:
   * OpenSSL 3.0 does not keep it in TLS 1.3 sessions (SSL_get_psk_identity is NULL).
   */
  private readonly pskIdentities = new Map<number, string>();
  private constructor(
    readonly ctx: Pointer,
    readonly role: "server" | "client",
    /** True when client certificates are requested and verified (their CN is the peer's identity). */
    readonly verifiesPeer: boolean,
  ) {}

  /** A server context; throws a {@link TlsError} naming the file that could not be used. */
  static server(credentials: TlsServerCredentials): TlsContext {
    const { ssl } = openssl();
    const context = new TlsContext(newContext(ssl.TLS_server_method()), "server", credentials.x509?.clientCaFile !== undefined);
    try {
      const { x509, psk } = credentials;
      if (x509) {
        check(ssl.SSL_CTX_use_certificate_chain_file(context.ctx, cstr(x509.certFile)), `cannot load the certificate ${x509.certFile}`);
        check(ssl.SSL_CTX_use_PrivateKey_file(context.ctx, cstr(x509.keyFile), SSL.FILETYPE_PEM), `cannot load the private key ${x509.keyFile}`);
        check(ssl.SSL_CTX_check_private_key(context.ctx), `${x509.keyFile} does not match ${x509.certFile}`);
        if (x509.clientCaFile) {
          check(ssl.SSL_CTX_load_verify_locations(context.ctx, cstr(x509.clientCaFile), null), `cannot load the CA ${x509.clientCaFile}`);
          ssl.SSL_CTX_set_verify(context.ctx, SSL.VERIFY_PEER | SSL.VERIFY_FAIL_IF_NO_PEER_CERT, null);
        }
      }
      if (psk) {
        // unsigned int cb(SSL *, const char *identity, unsigned char *psk, unsigned int max_psk_len)
        const callback = new JSCallback(
          (session: Pointer, identityAt: Pointer | null, out: Pointer, max: number) => {
            const identity = readCString(identityAt) ?? "";
            // Kept even when unknown: the handshake then fails, and the log says who tried.
            context.pskIdentities.set(session as unknown as number, identity);
            return copyKey(psk.get(identity), out, max);
          },
          { args: ["ptr", "ptr", "ptr", "u32"], returns: "u32" },
        );
        context.callbacks.push(callback);
        ssl.SSL_CTX_set_psk_server_callback(context.ctx, callback.ptr!);
        // In TLS 1.3 OpenSSL ties a callback's PSK to SHA-256: a server that also has a certificate
        // would otherwise pick a SHA-384 suite from a GnuTLS client's list, reject the PSK and
        // fall back to its certificate, which a PSK-only client cannot use.
        check(ssl.SSL_CTX_set_ciphersuites(context.ctx, cstr(PSK_FIRST_SUITES)), "cannot set the TLS 1.3 ciphersuites");
        ssl.SSL_CTX_set_options(context.ctx, SSL.OP_CIPHER_SERVER_PREFERENCE);
      }
      if (!x509 && !psk) throw new TlsError("TLS needs a certificate and key, or a PSK file");
    } catch (err) {
      context.free();
      throw err;
    }
    return context;
  }

  /** A client context. Without a CA or a PSK the server cannot be authenticated, so one is required. */
  static client(credentials: TlsClientCredentials): TlsContext {
    const { ssl } = openssl();
    const context = new TlsContext(newContext(ssl.TLS_client_method()), "client", credentials.caFile !== undefined);
    try {
      if (credentials.caFile) {
        check(ssl.SSL_CTX_load_verify_locations(context.ctx, cstr(credentials.caFile), null), `cannot load the CA ${credentials.caFile}`);
        ssl.SSL_CTX_set_verify(context.ctx, SSL.VERIFY_PEER, null);
      }
      if (credentials.certFile && credentials.keyFile) {
        check(ssl.SSL_CTX_use_certificate_chain_file(context.ctx, cstr(credentials.certFile)), `cannot load the certificate ${credentials.certFile}`);
        check(ssl.SSL_CTX_use_PrivateKey_file(context.ctx, cstr(credentials.keyFile), SSL.FILETYPE_PEM), `cannot load the private key ${credentials.keyFile}`);
      }
      const psk = credentials.psk;
      if (psk) {
        const identity = Buffer.from(psk.identity);
        // unsigned int cb(SSL *, const char *hint, char *identity, unsigned int max_identity_len, unsigned char *psk, unsigned int max_psk_len)
        const callback = new JSCallback(
          (_ssl: Pointer, _hint: Pointer | null, identityOut: Pointer, maxIdentity: number, keyOut: Pointer, maxKey: number) => {
            if (identity.length + 1 > maxIdentity) return 0;
            const into = new Uint8Array(toArrayBuffer(identityOut, 0, identity.length + 1));
            into.set(identity);
            into[identity.length] = 0;
            return copyKey(psk.key, keyOut, maxKey);
          },
          { args: ["ptr", "ptr", "ptr", "u32", "ptr", "u32"], returns: "u32" },
        );
        context.callbacks.push(callback);
        ssl.SSL_CTX_set_psk_client_callback(context.ctx, callback.ptr!);
      }
      if (!credentials.caFile && !psk) throw new TlsError("an NBD TLS client needs a CA file (tls-certificates) or a PSK (tls-psk-file)");
    } catch (err) {
      context.free();
      throw err;
    }
    return context;
  }

  /** The PSK identity a server session's client offered (forgotten once read, and when the session is freed). */
  takePskIdentity(session: Pointer): string | undefined {
    const identity = this.pskIdentities.get(session as unknown as number);
    this.pskIdentities.delete(session as unknown as number);
    return identity;
  }

  /** Releases the context (sessions made from it hold their own reference). */
  free(): void {
    openssl().ssl.SSL_CTX_free(this.ctx);
    for (const callback of this.callbacks.splice(0)) callback.close();
  }
}

/** TLS 1.3 suites with the SHA-256 ones first (see the PSK server callback). */
const PSK_FIRST_SUITES = "TLS_AES_128_GCM_SHA256:TLS_CHACHA20_POLY1305_SHA256:TLS_AES_256_GCM_SHA384";

function newContext(method: Pointer | bigint | null): Pointer {
  const { ssl } = openssl();
  const ctx = ssl.SSL_CTX_new(method as Pointer) as Pointer | null;
  if (!ctx) throw new TlsError(takeErrors("SSL_CTX_new failed"));
  ssl.SSL_CTX_ctrl(ctx, SSL.CTRL_SET_MIN_PROTO_VERSION, SSL.TLS1_2_VERSION, null);
  ssl.SSL_CTX_set_options(ctx, SSL.OP_NO_RENEGOTIATION);
  ssl.SSL_CTX_set_num_tickets(ctx, 0);
  return ctx;
}

function check(result: number, message: string): void {
  if (result !== 1) throw new TlsError(`${message}: ${takeErrors("unknown OpenSSL error")}`);
}

/** Writes a PSK where OpenSSL asked for it; its length, or 0 (unknown identity: the handshake fails). */
function copyKey(key: Buffer | undefined, out: Pointer, max: number): number {
  if (!key || key.length > max) return 0;
  new Uint8Array(toArrayBuffer(out, 0, key.length)).set(key);
  return key.length;
}
