/**
 * An NBD I/O worker: the transmission phase of every connection to ONE volume.
 *
 * It owns the volume's image (one instance, so qcow2 metadata is never cached
 * twice and a FLUSH covers every connection: CAN_MULTI_CONN holds) and does
 * blocking socket I/O through bun:ffi. With one connection it sleeps in
 * recv(2) itself — one syscall per request instead of an event-loop wakeup
 * plus a read, which is what brings QD1 latency to nbdkit's level. With more
 * connections it polls them.
 *
 * Control messages arrive on a MessagePort, read synchronously when the
 * main thread raises the shared flag; the receive timeout bounds how long
 * that can take while a connection is idle.
 */
import { receiveMessageOnPort, type MessagePort } from "node:worker_threads";
import type { BlockBackend } from "../backend/block-backend.ts";
import { openVolume, type VolumeSpec } from "../backend/open-volume.ts";
import { createLogger, type Logger, type LogLevel } from "../../util/log.ts";
import { EAGAIN, EINTR, pollReadable, recvInto, sendFrom, shutdownAndClose } from "../../util/linux.ts";
import type { Negotiated } from "./handshake.ts";
import { NbdStats } from "./stats.ts";
import { Transmission } from "./transmission.ts";
import { TlsError } from "../tls/openssl.ts";
import { TlsSession, type TlsHandle } from "../tls/session.ts";

/** The first message: what to open and how to talk back. */
export interface WorkerInit {
  spec: VolumeSpec;
  volume: string;
  logLevel: LogLevel;
  port: MessagePort;
  /** Int32 flag raised by the main thread when a control message is waiting. */
  flag: Int32Array;
  /** The server's {@link NbdStats} buffer, shared by every worker. */
  stats: SharedArrayBuffer;
}

/** Control messages from the main thread. */
export type WorkerControl =
  | { type: "attach"; id: number; fd: number; negotiated: Negotiated; rest: ArrayBuffer; tls: TlsHandle | undefined }
  | { type: "shutdown" };

/** Reports to the main thread. */
export type WorkerReport = { type: "ready" } | { type: "failed"; message: string } | { type: "closed"; id: number; reason: string } | { type: "exited" };

interface Connection {
  id: number;
  fd: number;
  transmission: Transmission;
  /** The connection's TLS session, continued from the handshake; plaintext connections have none. */
  tls: TlsSession | undefined;
  closed: boolean;
  reason: string;
}

const RECEIVE_BUFFER = 4 * 1024 * 1024;
/** Plaintext is encrypted and sent in slices of this size. */
const TLS_SEND_SLICE = 256 * 1024;
/**
 * After answering, a connection's worker polls for the next request this
 * long before sleeping in recv(2), as long as requests keep arriving within
 * it. A client at queue depth 1 answers within microseconds, and a sleeping
 * thread (and its idle vCPU) takes longer than that to wake.
 */
const SPIN_MS = 0.05;

declare const self: Worker;
const report = (message: WorkerReport) => self.postMessage(message);

self.onmessage = (event: MessageEvent<WorkerInit>) => {
  const init = event.data;
  const log = createLogger({ level: init.logLevel }, { mode: "nbd-export", kind: "nbd-worker", volume: init.volume });
  let backend: BlockBackend;
  try {
    backend = openVolume(init.spec);
  } catch (err) {
    report({ type: "failed", message: (err as Error).message });
    return;
  }
  report({ type: "ready" });
  try {
    serve(init, backend, log);
  } catch (err) {
    log.error("I/O worker failed", { err });
  } finally {
    try {
      backend.close();
    } catch (err) {
      log.error("closing the volume failed", { err });
    }
    report({ type: "exited" });
    self.onmessage = null;
  }
};

function serve(init: WorkerInit, backend: BlockBackend, log: Logger): void {
  const connections = new Map<number, Connection>();
  const input = Buffer.allocUnsafe(RECEIVE_BUFFER);
  /** Decrypted requests and encrypted replies, allocated when the first TLS connection comes. */
  let tlsBuffers: { plain: Buffer; cipher: Buffer } | undefined;
  const stats = new NbdStats(init.stats);
  let shuttingDown = false;
  let anyClosed = false;
  /** The connection when there is exactly one. */
  let only: Connection | undefined;

  const attach = (message: Extract<WorkerControl, { type: "attach" }>) => {
    const tls = message.tls && TlsSession.adopt(message.tls);
    const connection: Connection = { id: message.id, fd: message.fd, closed: false, reason: "", transmission: undefined!, tls };
    if (tls) tlsBuffers ??= { plain: Buffer.allocUnsafe(RECEIVE_BUFFER), cipher: Buffer.allocUnsafe(TLS_SEND_SLICE + 64 * 1024) };
    connection.transmission = new Transmission(
      backend,
      message.negotiated,
      {
        // Chosen once per connection: the plaintext path makes no TLS check per request.
        write: tls ? (data, offset, length) => writeTls(connection, tls, data, offset, length) : (data, offset, length) => writeAll(connection, data, offset, length),
        close: (reason) => end(connection, reason),
      },
      log,
      stats,
    );
    stats.connected();
    connections.set(message.id, connection);
    if (message.rest.byteLength > 0) connection.transmission.feed(Buffer.from(message.rest));
  };

  const end = (connection: Connection, reason: string) => {
    if (connection.closed) return;
    connection.closed = true;
    connection.reason = reason;
    anyClosed = true;
  };

  /** Blocking send of everything; a failure ends the connection. */
  const writeAll = (connection: Connection, data: Uint8Array, offset: number, length: number): void => {
    let sent = 0;
    while (sent < length && !connection.closed) {
      const n = sendFrom(connection.fd, data, offset + sent, length - sent);
      if (n === -EINTR || n === -EAGAIN) continue;
      if (n <= 0) return end(connection, `send failed (errno ${-n})`); // nothing more is sent on this connection
      sent += n;
    }
  };

  /** Encrypts and sends all of it, a slice at a time. */
  const writeTls = (connection: Connection, tls: TlsSession, data: Uint8Array, offset: number, length: number): void => {
    for (let done = 0; done < length && !connection.closed; done += TLS_SEND_SLICE) {
      tls.writePlaintext(data, offset + done, Math.min(TLS_SEND_SLICE, length - done));
      sendTlsOutput(connection, tls);
    }
  };

  /** Sends the ciphertext the session has ready (records, alerts, handshake answers). */
  const sendTlsOutput = (connection: Connection, tls: TlsSession): void => {
    const { cipher } = tlsBuffers!;
    for (let n = tls.readCiphertext(cipher, 0, cipher.length); n > 0 && !connection.closed; n = tls.readCiphertext(cipher, 0, cipher.length)) {
      writeAll(connection, cipher, 0, n);
    }
  };

  /** Decrypts `n` received bytes and feeds the requests in them, a buffer-full at a time. */
  const receiveTls = (connection: Connection, tls: TlsSession, n: number): void => {
    const { plain } = tlsBuffers!;
    tls.pushCiphertext(input, 0, n);
    try {
      for (let more = true; more && !connection.closed; ) {
        let used = 0;
        let got = 0;
        while (used < plain.length && (got = tls.readPlaintext(plain, used, plain.length - used)) > 0) used += got;
        if (used > 0) connection.transmission.feed(plain, used);
        if (got === -1) end(connection, "client closed TLS");
        more = used === plain.length;
      }
    } catch (err) {
      if (!(err instanceof TlsError)) throw err;
      log.warn("TLS record failed", { conn: connection.id, error: err.message });
      end(connection, `TLS failed: ${err.message}`);
    }
    sendTlsOutput(connection, tls);
  };

  /** Receives and handles what one connection sent; false when nothing came (timeout). */
  const receive = (connection: Connection, dontWait: boolean): boolean => {
    const n = recvInto(connection.fd, input, 0, dontWait);
    if (n > 0) {
      try {
        if (connection.tls) receiveTls(connection, connection.tls, n);
        else connection.transmission.feed(input, n);
      } catch (err) {
        log.error("connection failed", { conn: connection.id, err });
        end(connection, "internal error");
      }
    } else if (n === 0) end(connection, "client disconnected");
    else if (n !== -EAGAIN && n !== -EINTR) end(connection, `recv failed (errno ${-n})`);
    return n !== -EAGAIN;
  };

  /** Says close_notify (when the connection still works) and frees the session. */
  const closeTls = (connection: Connection, tls: TlsSession) => {
    tls.shutdown();
    const { cipher } = tlsBuffers!;
    // One try without blocking (sendFrom's "more" is MSG_DONTWAIT; the shutdown that follows pushes
    // it out): a client that is gone or not reading gets no close_notify.
    const n = tls.readCiphertext(cipher, 0, cipher.length);
    if (n > 0) sendFrom(connection.fd, cipher, 0, n, true);
    tls.free();
    connection.tls = undefined;
  };

  /** Reads control messages when flagged, or when `idle` (a message may trail its flag). */
  const control = (idle: boolean) => {
    if (Atomics.exchange(init.flag, 0, 0) === 0 && !idle) return;
    for (let m = receiveMessageOnPort(init.port); m; m = receiveMessageOnPort(init.port)) {
      const message = m.message as WorkerControl;
      if (message.type === "attach") attach(message);
      else shuttingDown = true;
    }
    only = connections.size === 1 ? connections.values().next().value : undefined;
  };

  /** Polls `connection` without blocking for up to SPIN_MS; true when a request came. */
  const spin = (connection: Connection): boolean => {
    const until = performance.now() + SPIN_MS;
    do {
      if (receive(connection, true)) return true;
    } while (performance.now() < until);
    return false;
  };

  let idle = false;
  let spinning = false;
  for (;;) {
    control(idle);
    idle = false;
    if (anyClosed || shuttingDown) {
      anyClosed = false;
      for (const connection of connections.values()) {
        if (!connection.closed && !shuttingDown) continue;
        connections.delete(connection.id);
        if (connection.tls) closeTls(connection, connection.tls);
        shutdownAndClose(connection.fd);
        report({ type: "closed", id: connection.id, reason: connection.reason || "server shutting down" });
      }
      only = connections.size === 1 ? connections.values().next().value : undefined;
    }
    if (shuttingDown) return;
    if (connections.size === 0) {
      idle = Atomics.wait(init.flag, 0, 0, 1000) === "timed-out";
      continue;
    }
    if (only) {
      // The fast path: poll briefly while requests come back to back, else sleep in recv(2).
      if (spinning && (spinning = spin(only))) continue;
      const asleep = performance.now();
      idle = !receive(only, false);
      spinning = performance.now() - asleep < SPIN_MS;
      continue;
    }
    const ready = new Set(pollReadable([...connections.values()].map((c) => c.fd), 100));
    idle = ready.size === 0;
    for (const connection of connections.values()) if (ready.has(connection.fd)) receive(connection, true);
  }
}
