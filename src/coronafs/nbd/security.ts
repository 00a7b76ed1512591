import { TlsContext } from "../tls/context.ts";
import { readPskFile } from "../tls/psk-file.ts";
import { AccessList } from "./access.ts";
import type { TlsMode } from "./handshake.ts";
import type { NbdSecurity } from "./server.ts";

/** An nbd-export's TLS settings as given on the command line (file paths). */
export interface NbdTlsConfig {
  mode: TlsMode;
  certFile?: string;
  keyFile?: string;
  /** Require client certificates signed by this CA (`--tls-verify-peer --tls-ca`). */
  clientCaFile?: string;
  pskFile?: string;
  accessFile?: string;
}

/** A setting that cannot work, with the option to fix. */
export class NbdTlsConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "NbdTlsConfigError";
  }
}

/**
 * Checks the settings and loads the files they name into the server's
 * {@link NbdSecurity}: a bad file or a missing credential stops the start
 * with a message naming the option, never a server that refuses everyone.
 */
export function loadNbdSecurity(config: NbdTlsConfig): NbdSecurity {
  const { mode } = config;
  if (mode === "off") {
    // --tls-cert/--tls-key alone are the admin API's HTTPS; these only mean something for NBD.
    if (config.pskFile ?? config.accessFile ?? config.clientCaFile) throw new NbdTlsConfigError("NBD TLS files are given but --tls is off (set --tls require or allow)");
    return { tls: "off" };
  }
  if ((config.certFile === undefined) !== (config.keyFile === undefined)) throw new NbdTlsConfigError("--tls-cert and --tls-key go together");
  if (!config.certFile && !config.pskFile) throw new NbdTlsConfigError(`--tls ${mode} needs --tls-cert/--tls-key or --tls-psk`);
  if (config.clientCaFile && !config.certFile) throw new NbdTlsConfigError("--tls-verify-peer needs the server's own --tls-cert/--tls-key");
  try {
    const access = config.accessFile ? AccessList.read(config.accessFile) : undefined;
    const psk = config.pskFile ? readPskFile(config.pskFile) : undefined;
    const x509 = config.certFile ? { certFile: config.certFile, keyFile: config.keyFile!, clientCaFile: config.clientCaFile } : undefined;
    return { tls: mode, context: TlsContext.server({ x509, psk }), access };
  } catch (err) {
    throw new NbdTlsConfigError((err as Error).message);
  }
}
