import { defineCommand } from "citty";
import { startController } from "../../controller/server.ts";
import { ensureDir } from "../../util/fs.ts";
import { ensureTokenFile } from "../../util/token.ts";
import { commonArgs } from "../args.ts";
import { dataDirOption, listenOption, numberOption, option } from "../config.ts";
import { commandContext } from "../context.ts";
import { runUntilSignal } from "../run-server.ts";

/** `photon controller`: the control API. */
export default defineCommand({
  meta: { name: "controller", description: "Run the controller (control API; default 127.0.0.1:7070)" },
  args: {
    ...commonArgs,
    listen: { type: "string", description: "admin API address (default 127.0.0.1:7070)", valueHint: "HOST:PORT" },
    "node-timeout": { type: "string", description: "mark a node down after this many ms without heartbeat (default 15000)" },
  },
  async run({ args }) {
    const { sources, log } = commandContext(args, "controller");
    const dataDir = dataDirOption(sources);
    ensureDir(dataDir);
    const token = option(sources, "token") ?? ensureTokenFile(dataDir).token;
    const server = startController(
      { dataDir, listen: listenOption(sources, "listen", "127.0.0.1:7070"), token, nodeTimeoutMs: numberOption(sources, "node-timeout", 15_000) },
      log,
    );
    await runUntilSignal(server, log);
  },
});
