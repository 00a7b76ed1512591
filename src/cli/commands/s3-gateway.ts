import { defineCommand } from "citty";
import { startS3Gateway } from "../../lightningstor/server.ts";
import { ensureDir } from "../../util/fs.ts";
import { ensureTokenFile } from "../../util/token.ts";
import { commonArgs } from "../args.ts";
import { dataDirOption, listenOption, option } from "../config.ts";
import { commandContext } from "../context.ts";
import { CliError } from "../errors.ts";
import { runUntilSignal } from "../run-server.ts";

/** `photon s3-gateway`: LightningStor's S3 API. */
export default defineCommand({
  meta: { name: "s3-gateway", description: "Serve the LightningStor S3 API (default 127.0.0.1:9000; admin 127.0.0.1:7073)" },
  args: {
    ...commonArgs,
    listen: { type: "string", description: "S3 address (default 127.0.0.1:9000)", valueHint: "HOST:PORT" },
    admin: { type: "string", description: "admin API address (default 127.0.0.1:7073)", valueHint: "HOST:PORT" },
    region: { type: "string", description: "region name clients sign for (default us-east-1)" },
    domain: { type: "string", description: "enable virtual-hosted-style requests to BUCKET.DOMAIN" },
    "access-key": { type: "string", description: "ensure this access key exists (with --secret-key; prefer PHOTON_ACCESS_KEY)" },
    "secret-key": { type: "string", description: "its secret (prefer PHOTON_SECRET_KEY)" },
  },
  async run({ args }) {
    const { sources, log } = commandContext(args, "s3-gateway");
    const dataDir = dataDirOption(sources);
    ensureDir(dataDir);
    const accessKey = option(sources, "access-key");
    const secretKey = option(sources, "secret-key");
    if ((accessKey === undefined) !== (secretKey === undefined)) throw new CliError("--access-key and --secret-key go together");
    const server = await startS3Gateway(
      {
        dataDir,
        listen: listenOption(sources, "listen", "127.0.0.1:9000"),
        admin: listenOption(sources, "admin", "127.0.0.1:7073"),
        token: option(sources, "token") ?? ensureTokenFile(dataDir).token,
        region: option(sources, "region") ?? "us-east-1",
        domain: option(sources, "domain")?.toLowerCase(),
        rootKey: accessKey && secretKey ? { accessKey, secretKey } : undefined,
      },
      log,
    );
    await runUntilSignal(server, log);
  },
});
