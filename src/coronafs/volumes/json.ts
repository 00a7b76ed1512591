import type { VolumeRow } from "../schema.ts";

/** Where clients reach the exports, for the `uri` fields of volume JSON. */
export interface ExportEndpoints {
  tcp?: { hostname: string; port: number };
  /** The exporter requires TLS: its TCP URI is `nbds://` (the client brings the CA or PSK). */
  tlsRequired?: boolean;
  unixPath?: string;
  connections(name: string): number;
  /** Ends every connection to a volume; resolves once its image is closed. */
  disconnect(name: string): Promise<void>;
}

/** The JSON shape of a volume. */
export function volumeJson(row: VolumeRow, endpoints: ExportEndpoints) {
  const name = encodeURIComponent(row.name);
  return {
    name: row.name,
    format: row.format,
    sizeBytes: row.sizeBytes,
    backing: row.backing,
    createdAt: row.createdAt.toISOString(),
    connections: endpoints.connections(row.name),
    uris: {
      ...(endpoints.tcp ? { tcp: `${endpoints.tlsRequired ? "nbds" : "nbd"}://${hostForUri(endpoints.tcp.hostname)}:${endpoints.tcp.port}/${name}` } : {}),
      ...(endpoints.unixPath ? { unix: `nbd+unix:///${name}?socket=${endpoints.unixPath}` } : {}),
    },
  };
}

/** A volume as the admin API returns it. */
export type VolumeInfo = ReturnType<typeof volumeJson>;

function hostForUri(hostname: string): string {
  if (hostname === "0.0.0.0") return "127.0.0.1";
  return hostname.includes(":") ? `[${hostname}]` : hostname;
}
