import { existsSync, readFileSync } from "node:fs";
import { dirname } from "node:path";
import { onNode } from "../state.ts";
import { logFileFor } from "../supervisor.ts";
import type { BenchContext, SectionPlan, Step } from "./context.ts";
import { runChecked } from "./process.ts";
import type { LightningSection, S3Profile } from "./result.ts";
import type { S3LoadResult } from "./s3-load.ts";

const MiB = 1024 * 1024;

/**
 * LightningStor from the S3 client's node: the seed's three profiles, each run
 * by this binary's hidden `photon lab s3-load` inside that node's namespace, so
 * the objects cross the client's link to node01's gateway.
 */
export function planLightningstor(ctx: BenchContext): SectionPlan<LightningSection> {
  const client = ctx.roles.s3Client;
  const large = ctx.quick ? { count: 1, sizeBytes: 16 * MiB } : { count: 1, sizeBytes: 256 * MiB };
  const small = ctx.quick ? { count: 16, sizeBytes: 1 * MiB } : { count: 32, sizeBytes: 4 * MiB };
  const profiles = {
    large: { ...large, concurrency: 1, label: `${large.sizeBytes / MiB} MiB object up and down` },
    batch: { ...small, concurrency: 1, label: `${small.count} × ${small.sizeBytes / MiB} MiB objects, one at a time` },
    parallel: { ...small, concurrency: 8, label: `${small.count} × ${small.sizeBytes / MiB} MiB objects, 8 jobs` },
  };
  const bucket = "photon-bench-storage";
  const results: Partial<Record<keyof typeof profiles, S3Profile>> = {};
  const steps: Step[] = Object.entries(profiles).map(([name, p]) => ({
    label: `S3 from ${client.name}: ${p.label}`,
    async run() {
      const argv = [
        ctx.binary, "lab", "s3-load", "--endpoint", ctx.state.s3Url, "--bucket", bucket, "--prefix", `${name}-${Date.now().toString(36)}`,
        "--count", String(p.count), "--size", String(p.sizeBytes), "--concurrency", String(p.concurrency),
        ...(ctx.state.ca ? ["--ca", ctx.state.ca] : []),
      ];
      // The key goes in the environment, never on a command line other users can read.
      const out = await runChecked(onNode(client, argv), { AWS_ACCESS_KEY_ID: ctx.s3Key.accessKeyId, AWS_SECRET_ACCESS_KEY: ctx.s3Key.secretAccessKey });
      const r = JSON.parse(out) as S3LoadResult;
      results[name as keyof typeof profiles] = { count: p.count, sizeBytes: p.sizeBytes, concurrency: p.concurrency, putSeconds: r.putSeconds, getSeconds: r.getSeconds };
    },
  }));
  return {
    steps,
    result: () => ({
      status: "measured",
      client: client.name,
      endpoint: ctx.state.s3Url,
      ...gatewayReplication(ctx),
      large: results.large!,
      batch: results.batch!,
      parallel: results.parallel!,
    }),
  };
}

/**
 * R, W and the storage node count as the gateway resolved them at start-up,
 * from its "chunks are replicated" log line (the gateway does not serve its
 * configuration); empty when the log is not where the lab keeps it.
 */
function gatewayReplication(ctx: BenchContext): Pick<LightningSection, "replicas" | "writeQuorum" | "storageNodes"> {
  const file = logFileFor(dirname(ctx.roles.server.dataDir), ctx.roles.server.name, "s3-gateway");
  if (!existsSync(file)) return {};
  const lines = readFileSync(file, "utf8").split("\n").filter((l) => l.includes("chunks are replicated"));
  const last = lines[lines.length - 1];
  if (!last) return {};
  try {
    const line = JSON.parse(last) as { replicas?: number; writeQuorum?: number; nodes?: string[] };
    return { replicas: line.replicas, writeQuorum: line.writeQuorum, storageNodes: line.nodes?.length };
  } catch {
    return {}; // a human-format log line (gateway run on a TTY): not parsed
  }
}

/** Reads the S3 root key the lab's gateway wrote (`AWS_ACCESS_KEY_ID=…` lines). */
export function readS3Key(file: string): { accessKeyId: string; secretAccessKey: string } {
  const text = readFileSync(file, "utf8");
  const value = (name: string) => new RegExp(`^${name}=(.+)$`, "m").exec(text)?.[1]?.trim();
  const accessKeyId = value("AWS_ACCESS_KEY_ID");
  const secretAccessKey = value("AWS_SECRET_ACCESS_KEY");
  if (!accessKeyId || !secretAccessKey) throw new Error(`${file} holds no AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY`);
  return { accessKeyId, secretAccessKey };
}
