import { defineCommand } from "citty";
import { join } from "node:path";
import { ensureDir } from "../../util/fs.ts";
import { ensureTokenFile, tokenFileName } from "../../util/token.ts";
import { commonArgs } from "../args.ts";
import { dataDirOption, loadSources } from "../config.ts";
import { print } from "../output.ts";

/** `photon init`: creates a data dir and its cluster token. */
export default defineCommand({
  meta: { name: "init", description: "Create a data directory and its cluster token (mode 0600)" },
  args: { ...commonArgs, json: { type: "boolean", description: "print JSON" } },
  run({ args }) {
    const dataDir = dataDirOption(loadSources(args));
    ensureDir(dataDir);
    const { created } = ensureTokenFile(dataDir);
    const tokenFile = join(dataDir, tokenFileName);
    print(args.json, { dataDir, tokenFile, created }, () =>
      created ? `initialized ${dataDir}; cluster token written to ${tokenFile}` : `${dataDir} already initialized (token in ${tokenFile})`,
    );
  },
});
