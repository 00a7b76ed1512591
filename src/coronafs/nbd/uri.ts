import { join } from "node:path";
import type { TlsClientCredentials } from "../tls/context.ts";
import { readPskFile } from "../tls/psk-file.ts";
import { NbdClientError } from "./client-error.ts";

/** Where to connect, parsed: TCP or a unix socket, and TLS credentials when the URI was `nbds`. */
export type NbdEndpoint = ({ host: string; port: number } | { socket: string }) & { exportName: string; tls?: TlsClientCredentials };

/**
 * Where to connect: a URI (`nbd://host:port/name`, `nbd+unix:///name?socket=PATH`,
 * and with TLS `nbds://…`, `nbds+unix://…`) or parts.
 */
export type NbdTarget = { uri: string } | NbdEndpoint;

/**
 * Parses an NBD URI (the NBD URI spec, as libnbd reads it) into an endpoint.
 * `nbds` schemes take libnbd's TLS parameters: `tls-psk-file` with the
 * user of the URI (or `tls-username`), or `tls-certificates=DIR` (ca-cert.pem, and client-cert.pem
 * with client-key.pem when present), and `tls-hostname`. An `nbds` URI with
 * neither (as an exporter prints it) takes `fallbackTls`: the CA this process
 * was given, as libnbd falls back to its default certificates directory.
 */
export function parseNbdUri(uri: string, fallbackTls?: TlsClientCredentials): NbdEndpoint {
  const url = new URL(uri);
  const exportName = decodeURIComponent(url.pathname.replace(/^\//, ""));
  const tls = url.protocol.startsWith("nbds") ? uriTlsCredentials(uri, url, fallbackTls) : undefined;
  if (url.protocol === "nbd+unix:" || url.protocol === "nbds+unix:") {
    const socket = url.searchParams.get("socket");
    if (!socket) throw new NbdClientError(`${uri}: nbd+unix URIs need ?socket=PATH`);
    return { socket, exportName, tls };
  }
  if (url.protocol === "nbd:" || url.protocol === "nbds:") {
    return { host: url.hostname.replace(/^\[|\]$/g, ""), port: Number(url.port || 10809), exportName, tls };
  }
  throw new NbdClientError(`${uri}: unsupported scheme ${url.protocol} (nbd:, nbds:, nbd+unix: or nbds+unix:)`);
}

function uriTlsCredentials(uri: string, url: URL, fallback: TlsClientCredentials | undefined): TlsClientCredentials {
  const params = url.searchParams;
  const pskFile = params.get("tls-psk-file");
  const certificates = params.get("tls-certificates");
  const serverName = params.get("tls-hostname") ?? undefined;
  if (pskFile) {
    // libnbd takes the user from the URI (nbds://alice@host/…); tls-username also works.
    const identity = params.get("tls-username") ?? decodeURIComponent(url.username);
    if (!identity) throw new NbdClientError(`${uri}: tls-psk-file needs a user (nbds://USER@host/…)`);
    const key = readPskFile(pskFile).get(identity);
    if (!key) throw new NbdClientError(`${uri}: ${pskFile} has no key for "${identity}"`);
    return { psk: { identity, key }, serverName };
  }
  if (certificates) {
    const client = join(certificates, "client-cert.pem");
    const hasClientCert = Bun.file(client).size > 0;
    return {
      caFile: join(certificates, "ca-cert.pem"),
      certFile: hasClientCert ? client : undefined,
      keyFile: hasClientCert ? join(certificates, "client-key.pem") : undefined,
      serverName,
    };
  }
  if (fallback) return { ...fallback, serverName: serverName ?? fallback.serverName };
  throw new NbdClientError(`${uri}: nbds URIs need tls-psk-file and tls-username, or tls-certificates`);
}
