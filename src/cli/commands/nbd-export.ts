import { defineCommand } from "citty";
import { join } from "node:path";
import { loadNbdSecurity, NbdTlsConfigError } from "../../coronafs/nbd/security.ts";
import type { TlsMode } from "../../coronafs/nbd/handshake.ts";
import { startNbdExport } from "../../coronafs/server.ts";
import { ensureDir } from "../../util/fs.ts";
import { commonArgs, serverCaArgs, serverTlsArgs } from "../args.ts";
import { caOption, certificateOption, clusterTokenOption, dataDirOption, listenOption, option, type OptionSources } from "../config.ts";
import { commandContext } from "../context.ts";
import { CliError } from "../errors.ts";
import { runUntilSignal } from "../run-server.ts";
import { socketAccessOption } from "../socket-access.ts";

/** `photon nbd-export`: CoronaFS volumes over NBD. */
export default defineCommand({
  meta: { name: "nbd-export", description: "Serve CoronaFS volumes over NBD (default 127.0.0.1:10809; admin 127.0.0.1:7072)" },
  args: {
    ...commonArgs,
    ca: { ...serverCaArgs.ca, description: "verify nbds:// sources of a materialize (e.g. this export's own TCP URI with --tls require) against these PEM CA certificates", valueHint: "FILE" },
    listen: { type: "string", description: "NBD TCP address, or 'none' (default 127.0.0.1:10809)", valueHint: "HOST:PORT" },
    socket: { type: "string", description: "NBD unix socket path, or 'none' (default <data-dir>/nbd.sock)", valueHint: "PATH" },
    "socket-mode": { type: "string", description: "unix socket permissions (octal, e.g. 0660; default from the umask)", valueHint: "MODE" },
    "socket-owner": { type: "string", description: "unix socket owner (user name or uid)", valueHint: "USER" },
    "socket-group": { type: "string", description: "unix socket group (group name or gid)", valueHint: "GROUP" },
    admin: { type: "string", description: "admin API address (default 127.0.0.1:7072)", valueHint: "HOST:PORT" },
    tls: { type: "string", description: "NBD TLS (NBD_OPT_STARTTLS): off, allow or require (default off)", valueHint: "MODE" },
    "tls-cert": { ...serverTlsArgs["tls-cert"], description: "PEM certificate chain: HTTPS on the admin API and, with --tls, NBD's X.509 (reread on SIGHUP)" },
    "tls-key": { ...serverTlsArgs["tls-key"], description: "the PEM private key of --tls-cert (reread on SIGHUP)" },
    "tls-verify-peer": { type: "boolean", description: "require client certificates signed by --tls-ca" },
    "tls-ca": { type: "string", description: "CA that signs client certificates (with --tls-verify-peer)", valueHint: "FILE" },
    "tls-psk": { type: "string", description: "TLS-PSK keys, psktool format (identity:hexkey lines)", valueHint: "FILE" },
    "tls-access": { type: "string", description: "which identity may open which volumes: lines 'identity volume-glob rw|ro'", valueHint: "FILE" },
  },
  async run({ args }) {
    const { sources, log, logLevel } = commandContext(args, "nbd-export");
    const dataDir = dataDirOption(sources);
    const tls = certificateOption(sources);
    ensureDir(dataDir);
    const token = clusterTokenOption(sources, true);
    const listen = option(sources, "listen");
    const socket = option(sources, "socket") ?? join(dataDir, "nbd.sock");
    const server = startNbdExport(
      {
        dataDir,
        tls,
        caFile: caFileOption(sources),
        listen: listen === "none" ? undefined : listenOption(sources, "listen", "127.0.0.1:10809"),
        socket: socket === "none" ? undefined : socket,
        socketAccess: socketAccessOption(sources, "socket"),
        security: securityOption(sources),
        admin: listenOption(sources, "admin", "127.0.0.1:7072"),
        token,
        logLevel,
      },
      log,
    );
    // SIGHUP also rereads NBD's TLS files (new keys, access rules, certificate) for new
    // connections, so that no VM's connection has to end for them; bad files change nothing.
    process.on("SIGHUP", () => {
      try {
        server.setNbdSecurity(securityOption(sources));
        log.info("SIGHUP: reread the NBD TLS settings");
      } catch (err) {
        log.error("SIGHUP: the NBD TLS settings were not reread; the previous ones stay", { error: (err as Error).message });
      }
    });
    await runUntilSignal(server, log, { certificate: tls, token });
  },
});

/** `--ca`, checked to be a PEM certificate file; its path is what OpenSSL loads. */
function caFileOption(sources: OptionSources): string | undefined {
  caOption(sources);
  return option(sources, "ca");
}

function securityOption(sources: OptionSources) {
  const mode = option(sources, "tls") ?? "off";
  if (mode !== "off" && mode !== "allow" && mode !== "require") throw new CliError(`--tls: expected off, allow or require, not "${mode}"`);
  const verifyPeer = option(sources, "tls-verify-peer") === "true";
  const ca = option(sources, "tls-ca");
  if (verifyPeer !== (ca !== undefined)) throw new CliError("--tls-verify-peer and --tls-ca go together");
  try {
    return loadNbdSecurity({
      mode: mode as TlsMode,
      certFile: option(sources, "tls-cert"),
      keyFile: option(sources, "tls-key"),
      clientCaFile: ca,
      pskFile: option(sources, "tls-psk"),
      accessFile: option(sources, "tls-access"),
    });
  } catch (err) {
    if (err instanceof NbdTlsConfigError) throw new CliError(err.message);
    throw err;
  }
}
