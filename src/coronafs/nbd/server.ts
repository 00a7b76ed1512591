import { existsSync, unlinkSync } from "node:fs";
import type { Socket, TCPSocketListener, UnixSocketListener } from "bun";
import type { ListenAddress } from "../../http/serve.ts";
import type { Logger } from "../../util/log.ts";
import type { ExportProvider, OpenExport } from "./exports.ts";
import { Handshake } from "./handshake.ts";
import { greeting } from "./protocol.ts";
import { Transmission } from "./transmission.ts";

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
  /** Ends every connection to an export (forced volume delete). */
  disconnect(exportName: string): void;
  stop(): Promise<void>;
}

/** Per-connection state kept on the socket. */
interface ConnectionState {
  id: number;
  phase: Handshake | Transmission;
  export: OpenExport | undefined;
  /** Bytes the kernel did not take yet; reading pauses until they drain. */
  backlog: Buffer[];
  closing: boolean;
}

type NbdSocket = Socket<ConnectionState>;

/**
 * Serves NBD on TCP and/or a unix socket. Each connection runs the handshake
 * then the transmission phase; a protocol violation ends that connection only.
 */
export function startNbdServer(provider: ExportProvider, listen: NbdListenOptions, log: Logger): NbdServer {
  let nextId = 1;
  const open = new Set<NbdSocket>();

  const send = (socket: NbdSocket, data: Uint8Array) => {
    const state = socket.data;
    if (state.backlog.length > 0) {
      state.backlog.push(Buffer.from(data));
      return;
    }
    const written = socket.write(data);
    if (written < data.length) {
      // The kernel buffer is full: keep the rest (the caller reuses `data`) and stop reading until drained.
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
      const state: ConnectionState = { id: nextId++, phase: undefined!, export: undefined, backlog: [], closing: false };
      socket.data = state;
      open.add(socket);
      state.phase = new Handshake(
        provider,
        {
          send: (data) => send(socket, data),
          close: (reason) => close(socket, reason),
          enterTransmission: (negotiated, rest) => {
            state.export = negotiated.export;
            state.phase = new Transmission(
              negotiated,
              {
                write: (data, offset, length) => socket.write(data, offset, length),
                pause: () => socket.pause(),
                resume: () => socket.resume(),
                close: (reason) => close(socket, reason),
              },
              log,
            );
            if (rest.length > 0) state.phase.feed(rest);
          },
        },
        log,
      );
      socket.setNoDelay?.(true);
      send(socket, greeting());
    },
    data(socket: NbdSocket, chunk: Buffer) {
      const state = socket.data;
      if (state.closing) return;
      try {
        state.phase.feed(chunk);
      } catch (err) {
        log.error("connection failed", { conn: state.id, err });
        close(socket, "internal error");
      }
    },
    drain(socket: NbdSocket) {
      const state = socket.data;
      if (state.backlog.length > 0) {
        while (state.backlog.length > 0) {
          const head = state.backlog[0]!;
          const written = socket.write(head);
          if (written < head.length) {
            state.backlog[0] = head.subarray(Math.max(written, 0));
            return;
          }
          state.backlog.shift();
        }
        if (state.closing) return void socket.end();
        socket.resume();
      }
      if (state.phase instanceof Transmission) state.phase.drain();
    },
    close(socket: NbdSocket) {
      open.delete(socket);
      socket.data.export?.release();
      socket.data.export = undefined;
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
    connections: (name) => [...open].filter((s) => s.data.export?.name === name).length,
    disconnect(name) {
      for (const socket of open) if (socket.data.export?.name === name) socket.terminate();
    },
    async stop() {
      tcp?.stop(true);
      unix?.stop(true);
      // Requests run synchronously, so none is half-done here: end every connection.
      for (const socket of open) socket.end();
      if (listen.unixPath && existsSync(listen.unixPath)) unlinkSync(listen.unixPath);
    },
  };
}
