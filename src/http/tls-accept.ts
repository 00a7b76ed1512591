import type { Socket, SocketHandler } from "bun";
import type { Logger } from "../util/log.ts";
import type { ServerCertificate } from "./server-certificate.ts";

/** A TLS record carrying a handshake starts with content type 22 (RFC 8446 §5.1); a ClientHello is one. */
export const TLS_HANDSHAKE_RECORD = 0x16;

const PLAIN_HTTP_ON_TLS = "This port speaks HTTPS: use an https:// URL.\n";
const PLAIN_HTTP_REFUSAL = Buffer.from(
  `HTTP/1.1 400 Bad Request\r\nconnection: close\r\ncontent-type: text/plain\r\ncontent-length: ${PLAIN_HTTP_ON_TLS.length}\r\n\r\n${PLAIN_HTTP_ON_TLS}`,
  "latin1",
);

/** What the plaintext side of a connection remembers: whether its first bytes were looked at. */
interface RawSide {
  seen: boolean;
}

/**
 * Handlers for a plaintext `Bun.listen` that make each accepted connection a
 * TLS server connection with the certificate in use at that moment (so a
 * reload applies from the next connection on) and hand the decrypted
 * connection to `inner`. Bun's listeners cannot swap their certificate, but a
 * socket upgraded when it opens can take any. A client that speaks plain
 * HTTP to this port gets a plain-text 400 that says so, and is closed.
 */
export function tlsAcceptor<Data>(certificate: ServerCertificate, inner: SocketHandler<Data>, log: Logger): SocketHandler<RawSide> {
  return {
    open(raw) {
      raw.data = { seen: false };
      raw.upgradeTLS<Data>({ tls: certificate.pem, socket: inner });
    },
    // The plaintext side still sees the bytes as they arrive, before they are decrypted.
    data(raw, bytes) {
      if (raw.data.seen) return;
      raw.data.seen = true;
      if (bytes[0] === TLS_HANDSHAKE_RECORD) return;
      log.warn("refused a connection that does not speak TLS on a TLS port", { remote: raw.remoteAddress, start: printable(bytes) });
      raw.write(PLAIN_HTTP_REFUSAL);
      raw.end();
    },
    error: (raw, err) => log.debug("TLS connection error", { remote: raw.remoteAddress, error: err.message }),
  };
}

/** Logs a connection that starts a TLS handshake on a plaintext port: the client has the wrong URL scheme. */
export function noteTlsOnPlaintext(socket: Socket<unknown>, first: Uint8Array, log: Logger): boolean {
  if (first[0] !== TLS_HANDSHAKE_RECORD) return false;
  log.warn("refused a TLS handshake on a plaintext port (the client uses https:// or the server lacks --tls-cert)", { remote: socket.remoteAddress });
  return true;
}

/** The first bytes of what a client sent, for the log. */
function printable(bytes: Uint8Array): string {
  return Buffer.from(bytes.subarray(0, 16)).toString("latin1").replace(/[^\x20-\x7e]/g, ".");
}
