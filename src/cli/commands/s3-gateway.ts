import { defineCommand } from "citty";
import { startS3Gateway } from "../../lightningstor/server.ts";
import { ensureDir } from "../../util/fs.ts";
import { ensureTokenFile } from "../../util/token.ts";
import { commonArgs, metadataArg } from "../args.ts";
import { dataDirOption, listenOption, metadataOption, numberOption, option, type OptionSources } from "../config.ts";
import { commandContext } from "../context.ts";
import { CliError } from "../errors.ts";
import { runUntilSignal } from "../run-server.ts";

/** `photon s3-gateway`: LightningStor's S3 API. */
export default defineCommand({
  meta: { name: "s3-gateway", description: "Serve the LightningStor S3 API (default 127.0.0.1:9000; admin 127.0.0.1:7073)" },
  args: {
    ...commonArgs,
    ...metadataArg,
    listen: { type: "string", description: "S3 address (default 127.0.0.1:9000)", valueHint: "HOST:PORT" },
    admin: { type: "string", description: "admin API address (default 127.0.0.1:7073)", valueHint: "HOST:PORT" },
    region: { type: "string", description: "region name clients sign for (default us-east-1)" },
    domain: { type: "string", description: "enable virtual-hosted-style requests to BUCKET.DOMAIN" },
    "access-key": { type: "string", description: "ensure this access key exists (with --secret-key; prefer PHOTON_ACCESS_KEY)" },
    "secret-key": { type: "string", description: "its secret (prefer PHOTON_SECRET_KEY)" },
    "storage-nodes": { type: "string", description: "replicate chunks over these agents (comma-separated admin URLs) instead of keeping them in the data dir", valueHint: "URL,URL,…" },
    replicas: { type: "string", description: "copies of each chunk with --storage-nodes (default min(3, nodes))" },
    "write-quorum": { type: "string", description: "copies fsynced before a write is acknowledged (default a majority of --replicas)" },
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
        metadata: metadataOption(sources),
        listen: listenOption(sources, "listen", "127.0.0.1:9000"),
        admin: listenOption(sources, "admin", "127.0.0.1:7073"),
        token: option(sources, "token") ?? ensureTokenFile(dataDir).token,
        region: option(sources, "region") ?? "us-east-1",
        domain: option(sources, "domain")?.toLowerCase(),
        rootKey: accessKey && secretKey ? { accessKey, secretKey } : undefined,
        replication: replicationOptions(sources),
      },
      log,
    );
    await runUntilSignal(server, log);
  },
});

/** `--storage-nodes` with its replica count and write quorum; undefined without storage nodes. */
function replicationOptions(sources: OptionSources): { nodes: string[]; replicas: number; writeQuorum: number } | undefined {
  const list = option(sources, "storage-nodes");
  if (list === undefined) return undefined;
  const nodes = list.split(",").map((url) => url.trim().replace(/\/+$/, "")).filter((url) => url !== "");
  for (const url of nodes) if (!/^https?:\/\/[^/]+$/.test(url)) throw new CliError(`--storage-nodes: "${url}" is not an http(s)://host:port URL`);
  if (nodes.length === 0) throw new CliError("--storage-nodes names no node");
  const replicas = numberOption(sources, "replicas", Math.min(3, nodes.length));
  if (replicas < 1 || replicas > nodes.length) throw new CliError(`--replicas must be between 1 and the ${nodes.length} storage nodes`);
  const writeQuorum = numberOption(sources, "write-quorum", Math.floor(replicas / 2) + 1);
  if (writeQuorum < 1 || writeQuorum > replicas) throw new CliError(`--write-quorum must be between 1 and --replicas (${replicas})`);
  return { nodes, replicas, writeQuorum };
}
