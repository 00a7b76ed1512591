import type { Socket, TCPSocketListener } from "bun";
import type { Logger } from "../util/log.ts";
import type { ServerCertificate } from "./server-certificate.ts";
import { tlsAcceptor } from "./tls-accept.ts";
import type { ListenAddress } from "./serve.ts";

/**
 * Bytes flowing one way between two sockets, with backpressure: what the
 * target does not take now waits in order, and the source is paused until
 * the target drains.
 */
class Flow {
  private target?: Socket<unknown>;
  private waiting: Uint8Array[] = [];

  constructor(private readonly source: () => Socket<unknown> | undefined) {}

  send(bytes: Uint8Array): void {
    if (!this.target || this.waiting.length > 0) {
      this.waiting.push(bytes);
      this.source()?.pause();
      return;
    }
    const written = this.target.write(bytes);
    if (written < bytes.length) {
      this.waiting.push(bytes.subarray(Math.max(0, written)));
      this.source()?.pause();
    }
  }

  /** The target is connected, or has room again. */
  drain(target: Socket<unknown>): void {
    this.target = target;
    while (this.waiting.length > 0) {
      const bytes = this.waiting[0]!;
      const written = target.write(bytes);
      if (written < bytes.length) {
        this.waiting[0] = bytes.subarray(Math.max(0, written));
        return;
      }
      this.waiting.shift();
    }
    this.source()?.resume();
  }
}

/** One client connection and its connection to the server behind. */
class Pipe {
  outer?: Socket<Pipe>;
  inner?: Socket<Pipe>;
  readonly up = new Flow(() => this.outer);
  readonly down = new Flow(() => this.inner);
  closed = false;

  close(): void {
    this.closed = true;
    this.outer?.end();
    this.inner?.end();
  }
}

/**
 * TLS in front of a server that listens on a private unix socket: each
 * client connection is decrypted with the certificate in use when it opened
 * (tls-accept.ts) and piped to its own connection to `innerSocket`. This is
 * how an admin API (Bun.serve, whose certificate is fixed at start) gets a
 * certificate that SIGHUP can replace without a restart.
 */
export function listenTlsFront(listen: ListenAddress, certificate: ServerCertificate, innerSocket: string, log: Logger): TCPSocketListener<unknown> {
  const connectInner = (pipe: Pipe) =>
    Bun.connect<Pipe>({
      unix: innerSocket,
      data: pipe,
      socket: {
        open(inner) {
          pipe.inner = inner;
          if (pipe.closed) return void inner.end();
          pipe.up.drain(inner);
        },
        data: (_inner, bytes) => pipe.down.send(bytes),
        drain: (inner) => pipe.up.drain(inner),
        close: () => pipe.close(),
        error: (_inner, err) => log.warn("TLS front: the server behind failed a connection", { error: err.message }),
      },
    }).catch((err: Error) => {
      log.error("TLS front: cannot reach the server behind", { socket: innerSocket, error: err.message });
      pipe.close();
    });

  return Bun.listen({
    hostname: listen.hostname,
    port: listen.port,
    socket: tlsAcceptor<Pipe>(
      certificate,
      {
        open(outer) {
          const pipe = new Pipe();
          outer.data = pipe;
          pipe.outer = outer;
          pipe.down.drain(outer);
          void connectInner(pipe);
        },
        data: (outer, bytes) => outer.data.up.send(bytes),
        drain: (outer) => outer.data.down.drain(outer),
        close: (outer) => outer.data?.close(),
        error: (_outer, err) => log.debug("TLS connection error", { error: err.message }),
      },
      log,
    ),
  });
}
