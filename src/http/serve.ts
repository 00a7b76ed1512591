import type { Hono } from "hono";
import type { Logger } from "../util/log.ts";

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
 * Serves a Hono app with Bun.serve. `maxRequestBodySize` raises Bun's default
 * limit (128 MiB) for APIs that take streamed uploads (volume images).
 */
export function serveApp(app: Hono, listen: ListenAddress, log: Logger, graceMs = 5000, limits: { maxRequestBodySize?: number } = {}): RunningServer {
  const server = Bun.serve({ hostname: listen.hostname, port: listen.port, fetch: app.fetch, idleTimeout: 30, ...limits });
  const address = { hostname: listen.hostname, port: server.port ?? listen.port };
  log.info("listening", { kind: "admin", url: `http://${formatHost(address.hostname)}:${address.port}` });
  return {
    address,
    async stop() {
      const graceful = server.stop(false);
      const timeout = new Promise<"timeout">((resolve) => setTimeout(resolve, graceMs, "timeout").unref());
      if ((await Promise.race([graceful, timeout])) === "timeout") await server.stop(true);
    },
  };
}

/** Brackets IPv6 literals for use in URLs. */
export function formatHost(hostname: string): string {
  return hostname.includes(":") ? `[${hostname}]` : hostname;
}
