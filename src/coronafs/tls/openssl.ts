import { CString, dlopen, type Pointer } from "bun:ffi";

/**
 * The system's OpenSSL 3 (libssl3) through bun:ffi: the calls Photon's NBD
 * TLS needs. Bun's own TLS (BoringSSL) has no TLS-PSK, and its sockets cannot
 * follow a connection into the NBD I/O workers, which do blocking I/O on the
 * descriptor; OpenSSL over memory BIOs does both (session.ts). Loaded on first
 * use, so a server without TLS never opens the library.
 */
const P = "ptr";
const i32 = "i32";
const i64 = "i64";
const u64 = "u64";
const V = "void";
const F = "function";

const loadSsl = () => dlopen("libssl.so.3", {
  TLS_server_method: { args: [], returns: P },
  TLS_client_method: { args: [], returns: P },
  SSL_CTX_new: { args: [P], returns: P },
  SSL_CTX_free: { args: [P], returns: V },
  SSL_CTX_use_certificate_chain_file: { args: [P, P], returns: i32 },
  SSL_CTX_use_PrivateKey_file: { args: [P, P, i32], returns: i32 },
  SSL_CTX_check_private_key: { args: [P], returns: i32 },
  SSL_CTX_load_verify_locations: { args: [P, P, P], returns: i32 },
  SSL_CTX_set_verify: { args: [P, i32, P], returns: V },
  SSL_CTX_ctrl: { args: [P, i32, i64, P], returns: i64 },
  SSL_CTX_set_options: { args: [P, u64], returns: u64 },
  SSL_CTX_set_num_tickets: { args: [P, u64], returns: i32 },
  SSL_CTX_set_ciphersuites: { args: [P, P], returns: i32 },
  SSL_CTX_set_psk_server_callback: { args: [P, F], returns: V },
  SSL_CTX_set_psk_client_callback: { args: [P, F], returns: V },
  SSL_new: { args: [P], returns: P },
  SSL_free: { args: [P], returns: V },
  SSL_set_bio: { args: [P, P, P], returns: V },
  SSL_get_rbio: { args: [P], returns: P },
  SSL_get_wbio: { args: [P], returns: P },
  SSL_set_accept_state: { args: [P], returns: V },
  SSL_set_connect_state: { args: [P], returns: V },
  SSL_do_handshake: { args: [P], returns: i32 },
  SSL_is_init_finished: { args: [P], returns: i32 },
  SSL_read: { args: [P, P, i32], returns: i32 },
  SSL_write: { args: [P, P, i32], returns: i32 },
  SSL_get_error: { args: [P, i32], returns: i32 },
  SSL_shutdown: { args: [P], returns: i32 },
  SSL_get_psk_identity: { args: [P], returns: P },
  SSL_get_version: { args: [P], returns: P },
  SSL_ctrl: { args: [P, i32, i64, P], returns: i64 },
  SSL_set1_host: { args: [P, P], returns: i32 },
  SSL_get1_peer_certificate: { args: [P], returns: P },
  SSL_get_verify_result: { args: [P], returns: i64 },
}).symbols;

const loadCrypto = () => dlopen("libcrypto.so.3", {
  BIO_s_mem: { args: [], returns: P },
  BIO_new: { args: [P], returns: P },
  BIO_write: { args: [P, P, i32], returns: i32 },
  BIO_read: { args: [P, P, i32], returns: i32 },
  ERR_get_error: { args: [], returns: u64 },
  ERR_error_string_n: { args: [u64, P, u64], returns: V },
  ERR_clear_error: { args: [], returns: V },
  X509_get_subject_name: { args: [P], returns: P },
  X509_NAME_get_text_by_NID: { args: [P, i32, P, i32], returns: i32 },
  X509_free: { args: [P], returns: V },
  X509_verify_cert_error_string: { args: [i64], returns: P },
}).symbols;

type Libs = { ssl: ReturnType<typeof loadSsl>; crypto: ReturnType<typeof loadCrypto> };
let libs: Libs | undefined;

/** The OpenSSL entry points; throws a clear error when libssl3 is missing. */
export function openssl(): Libs {
  if (libs) return libs;
  try {
    libs = { ssl: loadSsl(), crypto: loadCrypto() };
  } catch (err) {
    throw new TlsError(`NBD TLS needs OpenSSL 3 (Debian package libssl3): ${(err as Error).message}`);
  }
  return libs;
}

/** A TLS failure: bad credentials, a failed handshake, a broken record. */
export class TlsError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "TlsError";
  }
}

/** OpenSSL constants used here (ssl.h, tls1.h, x509.h, obj_mac.h). */
export const SSL = {
  FILETYPE_PEM: 1,
  VERIFY_PEER: 0x01,
  VERIFY_FAIL_IF_NO_PEER_CERT: 0x02,
  CTRL_SET_MIN_PROTO_VERSION: 123,
  CTRL_SET_TLSEXT_HOSTNAME: 55,
  TLSEXT_NAMETYPE_host_name: 0,
  TLS1_2_VERSION: 0x0303,
  OP_NO_RENEGOTIATION: 1n << 30n,
  OP_CIPHER_SERVER_PREFERENCE: 1n << 22n,
  ERROR_NONE: 0,
  ERROR_SSL: 1,
  ERROR_WANT_READ: 2,
  ERROR_WANT_WRITE: 3,
  ERROR_SYSCALL: 5,
  ERROR_ZERO_RETURN: 6,
  NID_commonName: 13,
} as const;

/** A NUL-terminated copy of a string, to pass as `const char *`. */
export function cstr(text: string): Buffer {
  return Buffer.from(`${text}\0`);
}

/** The messages on OpenSSL's (per-thread) error queue, emptied; `fallback` when it is empty. */
export function takeErrors(fallback: string): string {
  const { crypto } = openssl();
  const messages: string[] = [];
  const text = Buffer.alloc(256);
  for (let code = crypto.ERR_get_error(); code !== 0n; code = crypto.ERR_get_error()) {
    crypto.ERR_error_string_n(code, text, text.length);
    messages.push(text.toString("latin1", 0, Math.max(text.indexOf(0), 0)));
  }
  return messages.length > 0 ? messages.join("; ") : fallback;
}

/** A C string returned by OpenSSL, or undefined for NULL. */
export function readCString(at: Pointer | bigint | null): string | undefined {
  return at ? new CString(at as Pointer).toString() : undefined;
}
