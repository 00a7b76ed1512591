import { defineCommand } from "citty";
import { readFileSync } from "node:fs";
import { startController } from "../../controller/server.ts";
import type { ArtifactConfig } from "../../plasmavmc/images/artifact-store.ts";
import { ensureDir } from "../../util/fs.ts";
import { commonArgs, metadataArg, serverCaArgs, serverTlsArgs } from "../args.ts";
import { caOption, certificateOption, clusterTokenOption, dataDirOption, listenOption, metadataOption, numberOption, option, type OptionSources } from "../config.ts";
import { commandContext } from "../context.ts";
import { CliError } from "../errors.ts";
import { runUntilSignal } from "../run-server.ts";

/** `photon controller`: the control API. */
export default defineCommand({
  meta: { name: "controller", description: "Run the controller (control API; default 127.0.0.1:7070)" },
  args: {
    ...commonArgs,
    ...metadataArg,
    ...serverTlsArgs,
    ...serverCaArgs,
    listen: { type: "string", description: "admin API address (default 127.0.0.1:7070)", valueHint: "HOST:PORT" },
    "node-timeout": { type: "string", description: "mark a node down after this many ms without heartbeat (default 15000)" },
    coronafs: { type: "string", description: "admin API of the central CoronaFS nbd-export (volumes, image bases)", valueHint: "URL" },
    "s3-endpoint": { type: "string", description: "S3 endpoint for image artifacts (LightningStor)", valueHint: "URL" },
    "s3-admin": { type: "string", description: "the s3-gateway's admin API, for replication health in photon status", valueHint: "URL" },
    "s3-key-file": { type: "string", description: "file with AWS_ACCESS_KEY_ID=… and AWS_SECRET_ACCESS_KEY=… lines (the gateway's root-key)" },
    "s3-region": { type: "string", description: "S3 region (default us-east-1)" },
    "image-bucket": { type: "string", description: "bucket for image artifacts, created if missing (default photon-images)" },
    "cpu-ratio": { type: "string", description: "vCPUs the scheduler hands out per host CPU (default 4)" },
  },
  async run({ args }) {
    const { sources, log } = commandContext(args, "controller");
    const dataDir = dataDirOption(sources);
    const tls = certificateOption(sources);
    ensureDir(dataDir);
    const token = clusterTokenOption(sources, true);
    const cpuRatio = numberOption(sources, "cpu-ratio", 4);
    if (!(cpuRatio > 0)) throw new CliError("--cpu-ratio: expected a positive number");
    const server = await startController(
      {
        dataDir,
        metadata: metadataOption(sources),
        tls,
        ca: caOption(sources),
        listen: listenOption(sources, "listen", "127.0.0.1:7070"),
        token,
        nodeTimeoutMs: numberOption(sources, "node-timeout", 15_000),
        coronafsUrl: option(sources, "coronafs"),
        s3AdminUrl: option(sources, "s3-admin"),
        artifacts: artifactOptions(sources),
        cpuRatio,
      },
      log,
    );
    await runUntilSignal(server, log, { certificate: tls, token });
  },
});

/** The S3 settings for image artifacts: both endpoint and key file, or neither. */
function artifactOptions(sources: OptionSources): ArtifactConfig | undefined {
  const endpoint = option(sources, "s3-endpoint");
  const keyFile = option(sources, "s3-key-file");
  if (endpoint === undefined && keyFile === undefined) return undefined;
  if (endpoint === undefined || keyFile === undefined) throw new CliError("--s3-endpoint and --s3-key-file go together");
  return { endpoint, credentials: () => readKeyFile(keyFile), region: option(sources, "s3-region") ?? "us-east-1", bucket: option(sources, "image-bucket") ?? "photon-images" };
}

/** Reads a shell-style key file (`AWS_ACCESS_KEY_ID=…`, `AWS_SECRET_ACCESS_KEY=…`, optionally `export`ed or quoted). */
async function readKeyFile(path: string): Promise<{ accessKeyId: string; secretAccessKey: string }> {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (err) {
    throw new Error(`the S3 key file ${path} cannot be read: ${(err as Error).message}`);
  }
  const value = (name: string) => new RegExp(`^(?:export\\s+)?${name}=(.*)$`, "m").exec(text)?.[1]?.trim().replace(/^["']|["']$/g, "");
  const accessKeyId = value("AWS_ACCESS_KEY_ID");
  const secretAccessKey = value("AWS_SECRET_ACCESS_KEY");
  if (!accessKeyId || !secretAccessKey) throw new Error(`the S3 key file ${path} has no AWS_ACCESS_KEY_ID= and AWS_SECRET_ACCESS_KEY= lines`);
  return { accessKeyId, secretAccessKey };
}
