import { existsSync, unlinkSync } from "node:fs";
import type { Socket, TCPSocketListener, UnixSocketListener } from "bun";
import type { ListenAddress } from "../../http/serve.ts";
import { socketFd } from "../../util/linux.ts";
import type { Logger, LogLevel } from "../../util/log.ts";
import { TlsError } from "../tls/openssl.ts";
import { TlsSession } from "../tls/session.ts";
import type { TlsContext } from "../tls/context.ts";
import type { AccessList } from "./access.ts";
import type { ExportProvider } from "./exports.ts";
import { Handshake, type TlsMode } from "./handshake.ts";
import { greeting } from "./protocol.ts";
import { NbdStats, type NbdStatsSnapshot } from "./stats.ts";
import { VolumeWorkers } from "./volume-workers.ts";
import { listenUnixWithAccess, type UnixSocketAccess } from "./unix-socket.ts";

/** Where the NBD server listens. */
export interface NbdListenOptions {
  tcp?: ListenAddress;
  unixPath?: string;
  /** Mode and owner of the unix socket (default: as the umask makes it). */
  unixAccess?: UnixSocketAccess;
}

/** TLS and access control of an NBD server; without it, plaintext and every export open to all. */
export interface NbdSecurity {
  tls: TlsMode;
  /** The server's credentials; required unless `tls` is off. */
  context?: TlsContext;
  access?: AccessList;
}

/** A running NBD server. */
export interface NbdServer {
  tcpAddress?: ListenAddress;
  unixPath?: string;
  /** Open connections per export name. */
  connections(exportName: string): number;
  /** Open connections to every export. */
  totalConnections(): number;
  /** Requests, errors and bytes so far. */
  stats(): NbdStatsSnapshot;
  /** Ends every connection to an export and waits until its image is closed (forced volume delete). */
  disconnect(exportName: string): Promise<void>;
  /** New TLS settings and access list (SIGHUP) for the connections that start from now on. */
  setSecurity(next: NbdSecurity): void;
  /** The TLS mode new connections get. */
  tlsMode(): TlsMode;
  stop(): Promise<void>;
}

/** Per-connection state kept on the socket during the handshake. */
interface ConnectionState {
  id: number;
  handshake: Handshake;
  /** Handshake bytes the kernel did not take yet; reading pauses until they drain. */
  backlog: Buffer[];
  closing: boolean;
  /** Set once the connection belongs to an I/O worker. */
  handedOff: boolean;
  /** Set after NBD_OPT_STARTTLS: everything from then on goes through it. */
  tls: TlsSession | undefined;
}

type NbdSocket = Socket<ConnectionState>;

function checkSecurity(security: NbdSecurity): void {
  if (security.tls !== "off" && !security.context) throw new Error(`NBD TLS mode "${security.tls}" needs TLS credentials`);
}

/** The first byte of a TLS handshake record (a client that speaks TLS at once, without STARTTLS). */
const TLS_HANDSHAKE_RECORD = 0x16;

/**
 * Serves NBD on TCP and/or a unix socket. The handshake runs here on Bun's
 * event loop; after NBD_OPT_GO the connection is handed to its volume's I/O
 * worker for the transmission phase. A protocol violation ends that
 * connection only.
 */
export function startNbdServer(
  provider: ExportProvider,
  listen: NbdListenOptions,
  log: Logger,
  logLevel: LogLevel = "info",
  security: NbdSecurity = { tls: "off" },
): NbdServer {
  checkSecurity(security);
  /** Contexts replaced by `setSecurity`: sessions made from them may still be running. */
  const retired: TlsContext[] = [];
  let nextId = 1;
  const workers = new VolumeWorkers(log, logLevel, new NbdStats());
  const handshaking = new Set<NbdSocket>();

  /** Sends handshake bytes: encrypted once TLS is up. */
  const send = (socket: NbdSocket, data: Uint8Array) => {
    const tls = socket.data.tls;
    if (!tls) return sendRaw(socket, data);
    tls.writePlaintext(data, 0, data.length);
    flushTls(socket, tls);
  };

  const flushTls = (socket: NbdSocket, tls: TlsSession) => {
    const out = tls.takeCiphertext();
    if (out) sendRaw(socket, out);
  };

  const sendRaw = (socket: NbdSocket, data: Uint8Array) => {
    const state = socket.data;
    if (state.backlog.length > 0) {
      state.backlog.push(Buffer.from(data));
      return;
    }
    const written = socket.write(data);
    if (written < data.length) {
      state.backlog.push(Buffer.from(data.subarray(Math.max(written, 0))));
      socket.pause();
    }
  };

  const close = (socket: NbdSocket, reason: string) => {
    const state = socket.data;
    if (state.closing) return;
    state.closing = true;
    log.debug("closing connection", { conn: state.id, reason });
    if (state.tls) {
      state.tls.shutdown();
      flushTls(socket, state.tls);
    }
    if (state.backlog.length === 0) socket.end();
  };

  /** Decrypts what arrived; runs the TLS handshake, then hands the plaintext to the NBD handshake. */
  const receiveTls = (socket: NbdSocket, tls: TlsSession, chunk: Buffer) => {
    const state = socket.data;
    const wasUp = tls.handshakeDone;
    const plain: Buffer[] = [];
    let peerClosed = false;
    try {
      tls.pushCiphertext(chunk, 0, chunk.length);
      for (;;) {
        const out = Buffer.allocUnsafe(64 * 1024);
        const n = tls.readPlaintext(out, 0, out.length);
        if (n === -1) peerClosed = true;
        if (n <= 0) break;
        plain.push(out.subarray(0, n));
      }
    } catch (err) {
      if (!(err instanceof TlsError)) throw err;
      // A PSK client's identity is known even when its key was wrong or unknown.
      log.warn("TLS handshake or record failed", { conn: state.id, identity: tls.peerIdentity(), error: err.message });
      flushTls(socket, tls); // the alert tells the client why
      return close(socket, "TLS failed");
    }
    flushTls(socket, tls);
    if (!wasUp && tls.handshakeDone) {
      const identity = tls.peerIdentity();
      log.info("TLS established", { conn: state.id, version: tls.version(), identity });
      state.handshake.tlsEstablished(identity);
    }
    if (plain.length > 0) state.handshake.feed(plain.length === 1 ? plain[0]! : Buffer.concat(plain));
    if (peerClosed) close(socket, "client closed TLS");
  };

  const handlers = {
    open(socket: NbdSocket) {
      const state: ConnectionState = { id: nextId++, handshake: undefined!, backlog: [], closing: false, handedOff: false, tls: undefined };
      // The settings in force when the connection opened stay its settings.
      const { context } = security;
      socket.data = state;
      handshaking.add(socket);
      state.handshake = new Handshake(
        provider,
        {
          send: (data) => send(socket, data),
          close: (reason) => close(socket, reason),
          startTls: (rest) => {
            state.tls = TlsSession.create(context!);
            if (rest.length > 0) receiveTls(socket, state.tls, rest);
          },
          enterTransmission: (negotiated, rest) => {
            // From here on the worker owns the socket's I/O; Bun must not read it.
            socket.pause();
            state.handedOff = true;
            handshaking.delete(socket);
            const spec = negotiated.export.spec;
            // The TLS session moves to the worker with the socket; it frees it.
            const tls = state.tls?.handOver();
            state.tls = undefined;
            workers.attach(negotiated.export.name, spec, socketFd(socket), negotiated, rest, tls, () => socket.terminate()).catch((err: Error) => {
              log.error("cannot start transmission", { conn: state.id, export: negotiated.export.name, error: err.message });
              if (tls) TlsSession.adopt(tls).free(); // no worker took it
              socket.terminate();
            });
          },
        },
        log,
        security,
      );
      socket.setNoDelay?.(true);
      send(socket, greeting());
    },
    data(socket: NbdSocket, chunk: Buffer) {
      const state = socket.data;
      if (state.closing || state.handedOff) return;
      try {
        if (state.tls) receiveTls(socket, state.tls, chunk);
        else if (state.handshake.expectsClientFlags && chunk[0] === TLS_HANDSHAKE_RECORD) {
          log.warn("TLS ClientHello instead of NBD client flags: NBD negotiates TLS with NBD_OPT_STARTTLS", { conn: state.id });
          close(socket, "TLS without NBD_OPT_STARTTLS");
        } else state.handshake.feed(chunk);
      } catch (err) {
        log.error("connection failed", { conn: state.id, err });
        close(socket, "internal error");
      }
    },
    drain(socket: NbdSocket) {
      const state = socket.data;
      while (state.backlog.length > 0) {
        const head = state.backlog[0]!;
        const written = socket.write(head);
        if (written < head.length) {
          state.backlog[0] = head.subarray(Math.max(written, 0));
          return;
        }
        state.backlog.shift();
      }
      if (state.closing) socket.end();
      else if (!state.handedOff) socket.resume();
    },
    close(socket: NbdSocket) {
      handshaking.delete(socket);
      socket.data.tls?.free();
      socket.data.tls = undefined;
    },
    error(socket: NbdSocket, err: Error) {
      log.warn("connection error", { conn: socket.data?.id, error: err.message });
    },
  };

  let tcp: TCPSocketListener<ConnectionState> | undefined;
  let unix: UnixSocketListener<ConnectionState> | undefined;
  if (listen.tcp) {
    tcp = Bun.listen<ConnectionState>({ hostname: listen.tcp.hostname, port: listen.tcp.port, socket: handlers });
    log.info("listening", { kind: "nbd", url: `nbd://${listen.tcp.hostname}:${tcp.port}` });
  }
  if (listen.unixPath) {
    if (existsSync(listen.unixPath)) unlinkSync(listen.unixPath);
    const path = listen.unixPath;
    unix = listenUnixWithAccess(path, listen.unixAccess, () => Bun.listen<ConnectionState>({ unix: path, socket: handlers }));
    log.info("listening", { kind: "nbd-unix", url: `nbd+unix:///?socket=${listen.unixPath}`, socket: listen.unixPath });
  }

  return {
    tcpAddress: tcp ? { hostname: listen.tcp!.hostname, port: tcp.port } : undefined,
    unixPath: listen.unixPath,
    connections: (name) => workers.connections(name),
    totalConnections: () => workers.totalConnections(),
    stats: () => workers.stats.snapshot(),
    disconnect: (name) => workers.disconnect(name),
    setSecurity(next) {
      checkSecurity(next);
      if (security.context && security.context !== next.context) retired.push(security.context);
      security = next;
    },
    tlsMode: () => security.tls,
    async stop() {
      tcp?.stop(true);
      unix?.stop(true);
      for (const socket of handshaking) socket.end();
      // Workers finish the request at hand, end their connections, flush and close the images.
      await workers.stopAll();
      for (const context of [...retired, security.context]) context?.free();
      if (listen.unixPath && existsSync(listen.unixPath)) unlinkSync(listen.unixPath);
    },
  };
}
