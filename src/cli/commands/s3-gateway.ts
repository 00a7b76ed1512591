import { defineCommand } from "citty";
import { REPLICATION_MODES, type ReplicationMode } from "../../lightningstor/chunks/chain-mode.ts";
import { DEFAULT_NODE_GRACE_MS, startS3Gateway, type GatewayReplication } from "../../lightningstor/server.ts";
import { parseUrlList } from "../../http/failover-urls.ts";
import { ensureDir } from "../../util/fs.ts";
import { commonArgs, metadataArg, serverCaArgs, serverTlsArgs } from "../args.ts";
import { caOption, certificateOption, clusterTokenOption, dataDirOption, listenOption, metadataOption, numberOption, option, type OptionSources } from "../config.ts";
import { commandContext } from "../context.ts";
import { CliError } from "../errors.ts";
import { runUntilSignal } from "../run-server.ts";

/** `photon s3-gateway`: LightningStor's S3 API. */
export default defineCommand({
  meta: { name: "s3-gateway", description: "Serve the LightningStor S3 API (default 127.0.0.1:9000; admin 127.0.0.1:7073)" },
  args: {
    ...commonArgs,
    ...metadataArg,
    ...serverTlsArgs,
    ...serverCaArgs,
    listen: { type: "string", description: "S3 address (default 127.0.0.1:9000)", valueHint: "HOST:PORT" },
    admin: { type: "string", description: "admin API address (default 127.0.0.1:7073)", valueHint: "HOST:PORT" },
    region: { type: "string", description: "region name clients sign for (default us-east-1)" },
    domain: { type: "string", description: "enable virtual-hosted-style requests to BUCKET.DOMAIN" },
    "access-key": { type: "string", description: "ensure this access key exists (with --secret-key; prefer PHOTON_ACCESS_KEY)" },
    "secret-key": { type: "string", description: "its secret (prefer PHOTON_SECRET_KEY)" },
    controller: { type: "string", description: "replicate chunks over the controller's agents with the storage role, following joins, drains and losses (several comma-separated: controllers sharing one PostgreSQL, the active one is followed)", valueHint: "URL[,URL…]" },
    "storage-nodes": { type: "string", description: "replicate chunks over these agents (comma-separated admin URLs) instead: a fixed list, overrides --controller", valueHint: "URL,URL,…" },
    replicas: { type: "string", description: "copies of each chunk (default 3; with --storage-nodes min(3, nodes))" },
    "write-quorum": { type: "string", description: "copies fsynced before a write is acknowledged (default a majority of --replicas)" },
    "gc-every": { type: "string", description: "with storage nodes: collect this gateway's unreferenced chunk copies at least this old, this often (default 3600)", valueHint: "SECONDS" },
    "node-grace": { type: "string", description: `ms a storage node may be down before its copies are made again elsewhere (default ${DEFAULT_NODE_GRACE_MS})` },
    "repair-rate": { type: "string", description: "MiB/s repairs and rebalancing may write (default 64; an eighth of it while S3 requests keep coming), so client traffic keeps its speed" },
    "replication-mode": { type: "string", description: "how copies reach the nodes: chain (bytes sent once, each node forwards), fanout (each copy from the gateway), auto (fanout when every node is on loopback, else chain; default)" },
  },
  async run({ args }) {
    const { sources, log } = commandContext(args, "s3-gateway");
    const dataDir = dataDirOption(sources);
    const tls = certificateOption(sources);
    ensureDir(dataDir);
    const token = clusterTokenOption(sources, true);
    const accessKey = option(sources, "access-key");
    const secretKey = option(sources, "secret-key");
    if ((accessKey === undefined) !== (secretKey === undefined)) throw new CliError("--access-key and --secret-key go together");
    const server = await startS3Gateway(
      {
        dataDir,
        metadata: metadataOption(sources),
        tls,
        ca: caOption(sources),
        listen: listenOption(sources, "listen", "127.0.0.1:9000"),
        admin: listenOption(sources, "admin", "127.0.0.1:7073"),
        token,
        region: option(sources, "region") ?? "us-east-1",
        domain: option(sources, "domain")?.toLowerCase(),
        rootKey: accessKey && secretKey ? { accessKey, secretKey } : undefined,
        replication: replicationOptions(sources),
        gcEveryMs: gcEveryMs(sources),
      },
      log,
    );
    await runUntilSignal(server, log, { certificate: tls, token });
  },
});

/**
 * Replication from `--storage-nodes` (a fixed list) or `--controller` (its
 * storage nodes), with the replica count, write quorum, grace and repair
 * rate; undefined with neither (chunks stay in the data dir).
 */
function replicationOptions(sources: OptionSources): GatewayReplication | undefined {
  const list = option(sources, "storage-nodes");
  const controllerUrl = option(sources, "controller")?.replace(/\/+$/, "");
  if (list === undefined && controllerUrl === undefined) return undefined;
  const nodes = list?.split(",").map((url) => url.trim().replace(/\/+$/, "")).filter((url) => url !== "");
  for (const url of nodes ?? []) if (!/^https?:\/\/[^/]+$/.test(url)) throw new CliError(`--storage-nodes: "${url}" is not an http(s)://host:port URL`);
  if (nodes?.length === 0) throw new CliError("--storage-nodes names no node");
  const controllers = nodes ? [] : parseUrlList(controllerUrl!);
  if (!nodes && controllers.length === 0) throw new CliError("--controller names no URL");
  for (const url of controllers) if (!/^https?:\/\/[^/]+$/.test(url)) throw new CliError(`--controller: "${url}" is not an http(s)://host:port URL`);
  const replicas = numberOption(sources, "replicas", nodes ? Math.min(3, nodes.length) : 3);
  if (replicas < 1 || (nodes && replicas > nodes.length)) throw new CliError(`--replicas must be between 1 and the ${nodes?.length} storage nodes`);
  const writeQuorum = numberOption(sources, "write-quorum", Math.floor(replicas / 2) + 1);
  if (writeQuorum < 1 || writeQuorum > replicas) throw new CliError(`--write-quorum must be between 1 and --replicas (${replicas})`);
  const repairMiB = numberOption(sources, "repair-rate", 64);
  if (repairMiB <= 0) throw new CliError("--repair-rate must be above zero");
  return {
    ...(nodes ? { nodes } : { controllerUrl }),
    replicas,
    writeQuorum,
    graceMs: numberOption(sources, "node-grace", DEFAULT_NODE_GRACE_MS),
    repairBytesPerSecond: repairMiB * 2 ** 20,
    mode: replicationMode(sources),
  };
}

/** `--gc-every` in milliseconds. */
function gcEveryMs(sources: OptionSources): number {
  const seconds = numberOption(sources, "gc-every", 3600);
  if (seconds === 0) throw new CliError("--gc-every must be more than 0 seconds");
  return seconds * 1000;
}

/** `--replication-mode`: how a chunk's copies reach the nodes (default auto). */
function replicationMode(sources: OptionSources): ReplicationMode {
  const mode = (option(sources, "replication-mode") ?? "auto") as ReplicationMode;
  if (!REPLICATION_MODES.includes(mode)) throw new CliError(`--replication-mode must be one of ${REPLICATION_MODES.join(", ")}`);
  return mode;
}
