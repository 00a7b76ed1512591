import type { ArgsDef } from "citty";

/** Arguments every command takes. Defaults live in config.ts so that precedence can be resolved. */
export const commonArgs = {
  config: { type: "string", description: "TOML config file (keys are the long flag names)", valueHint: "FILE" },
  "data-dir": { type: "string", description: "data directory (default /var/lib/photon as root, else ./photon-data)", valueHint: "DIR" },
  token: { type: "string", description: "cluster token (prefer PHOTON_TOKEN or the data dir's cluster-token file)" },
  "token-file": { type: "string", description: "cluster token file, one token a line: the first is sent, all are accepted (rotation); reread on SIGHUP (default <data-dir>/cluster-token)", valueHint: "FILE" },
  "log-level": { type: "string", description: "debug | info | warn | error (default info)" },
} as const satisfies ArgsDef;

/** `--metadata` of the modes that keep metadata in a database (controller, s3-gateway). */
export const metadataArg = {
  metadata: { type: "string", description: "sqlite (default: a file in the data dir) or postgres://USER@HOST/DB (shared by several processes)", valueHint: "sqlite|URL" },
} as const satisfies ArgsDef;

/** TLS for a server mode's listeners. */
export const serverTlsArgs = {
  "tls-cert": { type: "string", description: "serve HTTPS with this PEM certificate chain (reread on SIGHUP)", valueHint: "FILE" },
  "tls-key": { type: "string", description: "the PEM private key of --tls-cert (reread on SIGHUP)", valueHint: "FILE" },
} as const satisfies ArgsDef;

/** The CA a server mode's own clients (to other nodes) trust. */
export const serverCaArgs = {
  ca: { type: "string", description: "verify the https:// servers this mode calls against these PEM CA certificates", valueHint: "FILE" },
} as const satisfies ArgsDef;

/**
 * Arguments of client commands that talk to an admin API: only what they use
 * (no `--config`; PHOTON_CONFIG still applies). The data dir only says where
 * the cluster-token file is.
 */
export const clientArgs = {
  server: { type: "string", description: "admin API URL, or several comma-separated (the one that answers as active is used) (default http://127.0.0.1:7070, the local controller)", valueHint: "URL[,URL…]" },
  ca: { type: "string", description: "verify an https:// server against these PEM CA certificates (default: the system's)", valueHint: "FILE" },
  token: commonArgs.token,
  "data-dir": { type: "string", description: "read the token from DIR/cluster-token when neither --token nor PHOTON_TOKEN is set", valueHint: "DIR" },
  json: { type: "boolean", description: "print JSON instead of a table (and errors as JSON on stderr)" },
  "log-level": { type: "string", description: "debug shows the stack trace of an error" },
} as const satisfies ArgsDef;

/** Arguments repeated as a flag (`--data-disk 1G --data-disk 2G`); citty keeps only the last, so read them from argv. */
export function repeated(rawArgs: string[], flag: string): string[] {
  const values: string[] = [];
  for (let i = 0; i < rawArgs.length; i++) {
    if (rawArgs[i] === flag && rawArgs[i + 1] !== undefined) values.push(rawArgs[++i]!);
    else if (rawArgs[i]!.startsWith(`${flag}=`)) values.push(rawArgs[i]!.slice(flag.length + 1));
  }
  return values;
}
