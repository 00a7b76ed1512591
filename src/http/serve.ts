import type { Hono } from "hono";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Logger } from "../util/log.ts";
import type { ServerCertificate } from "./server-certificate.ts";
import { listenTlsFront } from "./tls-front.ts";

/** A running server: where it listens and how to stop it. */
export interface RunningServer {
  address: { hostname: string; port: number };
  /** Stops accepting, lets in-flight requests finish (bounded), then resolves. */
  stop(): Promise<void>;
}

/** A `host:port` pair from flags; port 0 asks the kernel for a free one. */
export interface ListenAddress {
  hostname: string;
  port: number;
}

/** Parses `host:port`, `:port` or `port`, with a default host. */
export function parseListen(value: string, defaultHost = "127.0.0.1"): ListenAddress {
  const match = /^(?:\[([^\]]+)\]|([^:]*)):(\d+)$/.exec(value) ?? /^()()(\d+)$/.exec(value);
  if (!match) throw new Error(`invalid listen address "${value}" (expected host:port)`);
  const port = Number(match[3]);
  if (port > 65535) throw new Error(`invalid port in "${value}"`);
  return { hostname: match[1] || match[2] || defaultHost, port };
}

/**
 * Serves a Hono app with Bun.serve. Request bodies may be of any size (volume
 * and image uploads stream to disk); a connection idle for 30 s is closed,
 * except while an authenticated request is being handled (see admin-app.ts).
 * With a certificate the app listens on a private unix socket behind a TLS
 * front (tls-front.ts), so SIGHUP can renew the certificate.
 */
export function serveApp(app: Hono, listen: ListenAddress, log: Logger, options: { tls?: ServerCertificate; graceMs?: number } = {}): RunningServer {
  const { tls, graceMs = 5000 } = options;
  const privateDir = tls ? mkdtempSync(join(tmpdir(), "photon-admin-")) : undefined;
  const common = { fetch: app.fetch, idleTimeout: 30, maxRequestBodySize: Number.MAX_SAFE_INTEGER };
  const innerSocket = privateDir && join(privateDir, "admin.sock");
  // Bun's types leave idleTimeout off unix-socket servers; Bun applies it to them as well.
  const server = innerSocket ? Bun.serve({ ...common, unix: innerSocket } as unknown as Parameters<typeof Bun.serve>[0]) : Bun.serve({ ...common, hostname: listen.hostname, port: listen.port });
  const front = tls && innerSocket ? listenTlsFront(listen, tls, innerSocket, log) : undefined;
  const address = { hostname: listen.hostname, port: front?.port ?? server.port ?? listen.port };
  log.info("listening", { kind: "admin", url: `${tls ? "https" : "http"}://${formatHost(address.hostname)}:${address.port}` });
  return {
    address,
    async stop() {
      front?.stop(false);
      const graceful = server.stop(false);
      const timeout = new Promise<"timeout">((resolve) => setTimeout(resolve, graceMs, "timeout").unref());
      if ((await Promise.race([graceful, timeout])) === "timeout") await server.stop(true);
      front?.stop(true);
      if (privateDir) rmSync(privateDir, { recursive: true, force: true });
    },
  };
}

/** Brackets IPv6 literals for use in URLs. */
export function formatHost(hostname: string): string {
  return hostname.includes(":") ? `[${hostname}]` : hostname;
}
