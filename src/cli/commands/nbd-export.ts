import { defineCommand } from "citty";
import { join } from "node:path";
import { startNbdExport } from "../../coronafs/server.ts";
import { ensureDir } from "../../util/fs.ts";
import { commonArgs, serverTlsArgs } from "../args.ts";
import { certificateOption, clusterTokenOption, dataDirOption, listenOption, option } from "../config.ts";
import { commandContext } from "../context.ts";
import { runUntilSignal } from "../run-server.ts";

/** `photon nbd-export`: CoronaFS volumes over NBD. */
export default defineCommand({
  meta: { name: "nbd-export", description: "Serve CoronaFS volumes over NBD (default 127.0.0.1:10809; admin 127.0.0.1:7072)" },
  args: {
    ...commonArgs,
    ...serverTlsArgs,
    listen: { type: "string", description: "NBD TCP address, or 'none' (default 127.0.0.1:10809)", valueHint: "HOST:PORT" },
    socket: { type: "string", description: "NBD unix socket path, or 'none' (default <data-dir>/nbd.sock)", valueHint: "PATH" },
    admin: { type: "string", description: "admin API address (default 127.0.0.1:7072)", valueHint: "HOST:PORT" },
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
        listen: listen === "none" ? undefined : listenOption(sources, "listen", "127.0.0.1:10809"),
        socket: socket === "none" ? undefined : socket,
        admin: listenOption(sources, "admin", "127.0.0.1:7072"),
        token,
        logLevel,
      },
      log,
    );
    await runUntilSignal(server, log, { certificate: tls, token });
  },
});
