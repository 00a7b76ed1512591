import { existsSync, unlinkSync } from "node:fs";
import type { Socket, TCPSocketListener, UnixSocketListener } from "bun";
import type { ListenAddress } from "../../http/serve.ts";
import { socketFd } from "../../util/linux.ts";
import type { Logger, LogLevel } from "../../util/log.ts";
import type { ExportProvider } from "./exports.ts";
import { Handshake } from "./handshake.ts";
import { greeting } from "./protocol.ts";
import { NbdStats, type NbdStatsSnapshot } from "./stats.ts";
import { VolumeWorkers } from "./volume-workers.ts";

/** Where the NBD server listens. */
export interface NbdListenOptions {
  tcp?: ListenAddress;
  unixPath?: string;
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
}

type NbdSocket = Socket<ConnectionState>;

/**
 * Serves NBD on TCP and/or a unix socket. The handshake runs here on Bun's
 * event loop; after NBD_OPT_GO the connection is handed to its volume's I/O
 * worker for the transmission phase. A protocol violation ends that
 * connection only.
 */
export function startNbdServer(provider: ExportProvider, listen: NbdListenOptions, log: Logger, logLevel: LogLevel = "info"): NbdServer {
  let nextId = 1;
  const workers = new VolumeWorkers(log, logLevel, new NbdStats());
  const handshaking = new Set<NbdSocket>();

  const send = (socket: NbdSocket, data: Uint8Array) => {
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
    if (state.backlog.length === 0) socket.end();
  };

  const handlers = {
    open(socket: NbdSocket) {
      const state: ConnectionState = { id: nextId++, handshake: undefined!, backlog: [], closing: false, handedOff: false };
      socket.data = state;
      handshaking.add(socket);
      state.handshake = new Handshake(
        provider,
        {
          send: (data) => send(socket, data),
          close: (reason) => close(socket, reason),
          enterTransmission: (negotiated, rest) => {
            // From here on the worker owns the socket's I/O; Bun must not read it.
            socket.pause();
            state.handedOff = true;
            handshaking.delete(socket);
            const spec = negotiated.export.spec;
            workers.attach(negotiated.export.name, spec, socketFd(socket), negotiated, rest, () => socket.terminate()).catch((err: Error) => {
              log.error("cannot start transmission", { conn: state.id, export: negotiated.export.name, error: err.message });
              socket.terminate();
            });
          },
        },
        log,
      );
      socket.setNoDelay?.(true);
      send(socket, greeting());
    },
    data(socket: NbdSocket, chunk: Buffer) {
      const state = socket.data;
      if (state.closing || state.handedOff) return;
      try {
        state.handshake.feed(chunk);
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
    unix = Bun.listen<ConnectionState>({ unix: listen.unixPath, socket: handlers });
    log.info("listening", { kind: "nbd-unix", url: `nbd+unix:///?socket=${listen.unixPath}`, socket: listen.unixPath });
  }

  return {
    tcpAddress: tcp ? { hostname: listen.tcp!.hostname, port: tcp.port } : undefined,
    unixPath: listen.unixPath,
    connections: (name) => workers.connections(name),
    totalConnections: () => workers.totalConnections(),
    stats: () => workers.stats.snapshot(),
    disconnect: (name) => workers.disconnect(name),
    async stop() {
      tcp?.stop(true);
      unix?.stop(true);
      for (const socket of handshaking) socket.end();
      // Workers finish the request at hand, end their connections, flush and close the images.
      await workers.stopAll();
      if (listen.unixPath && existsSync(listen.unixPath)) unlinkSync(listen.unixPath);
    },
  };
}
