import { figuresOf, type Figures } from "./figures.ts";
import { mibps, pct, rate, seconds, sizeMiB } from "./format.ts";
import { nodeLocalVsNbdkit, SEED_RATIOS, TARGETS, type TargetDef } from "./ratios.ts";
import { jobLabels } from "./job-labels.ts";
import { measured, type BenchResult } from "./result.ts";
import { SEED_FIGURES } from "./seed.ts";

/**
 * The assessment bullets of a run, worded from its numbers: every ratio the
 * seed states (beside the seed's value), what the object path and the
 * materializations achieved, and each target of issue 12 met or missed and by
 * how much.
 */
export function assess(result: BenchResult, seed: Figures = SEED_FIGURES): string[] {
  const f = figuresOf(result);
  const bullets: string[] = [];
  for (const ratio of SEED_RATIOS) {
    const value = ratio.value(f);
    if (value === undefined) continue;
    const seedValue = ratio.value(seed);
    const versus = seedValue === undefined ? "" : ` (seed: ${pct(seedValue)}; ${compare(value, seedValue)})`;
    bullets.push(`${ratio.subject} are ${pct(value)} of ${ratio.baseline}${versus}.`);
  }
  bullets.push(...materializeBullets(result, f), ...nbdkitBullets(f), ...objectBullets(result, f), ...baselineBullets(result));
  for (const target of TARGETS) bullets.push(targetBullet(target, f, result));
  if (!measured(result.vmImage) || !measured(result.vmRuntime)) {
    const reason = !measured(result.vmImage) ? result.vmImage.reason : !measured(result.vmRuntime) ? result.vmRuntime.reason : "";
    bullets.push(`The VM image and VM runtime paths were not measured in this run: ${reason}.`);
  }
  return bullets;
}

function compare(value: number, seedValue: number): string {
  const factor = value / seedValue;
  if (factor >= 1.05) return `${factor.toFixed(factor >= 10 ? 0 : 1)}× the seed's`;
  if (factor <= 0.95) return `${pct(factor)} of the seed's`;
  return "about the seed's";
}

function materializeBullets(result: BenchResult, f: Figures): string[] {
  const corona = result.coronafs;
  if (!measured(corona)) return [`CoronaFS was not measured: ${corona.reason}.`];
  const [first, second] = corona.materialize;
  if (!first) return [];
  const link = f.tcpWorker === undefined ? "" : `, ${pct(first.mibps / f.tcpWorker)} of the ${mibps(f.tcpWorker)} TCP baseline`;
  let text = `Materializing the fully written ${sizeMiB(first.bytes)} volume onto ${first.node} took ${seconds(first.seconds)} (${mibps(first.mibps)}${link})`;
  if (second) text += `; onto ${second.node} ${seconds(second.seconds)} (${mibps(second.mibps)})`;
  return [`${text}.`];
}

function nbdkitBullets(f: Figures): string[] {
  const ratios = nodeLocalVsNbdkit(f);
  if (!ratios) return [];
  const jobs = Object.entries(ratios.byJob).map(([job, ratio]) => `${lower(jobLabels[job as keyof typeof jobLabels])} ${ratio.toFixed(2)}×`);
  return [`Against nbdkit serving a same-size file on the same worker, the node-local export reaches ${jobs.join(", ")}; the weakest job is ${lower(jobLabels[ratios.worst.job])}.`];
}

function objectBullets(result: BenchResult, f: Figures): string[] {
  const s3 = result.lightningstor;
  if (!measured(s3)) return [`LightningStor was not measured: ${s3.reason}.`];
  const rw = s3.replicas === undefined ? "replication settings not reported by the gateway" : `R = ${s3.replicas}, W = ${s3.writeQuorum ?? "?"}`;
  const bullets = [
    `LightningStor's replicated S3 path (${rw}${s3.storageNodes ? ` over ${s3.storageNodes} storage nodes` : ""}) moved a ${sizeMiB(s3.large.sizeBytes)} object up at ${mibps(f.s3.largeUp!)} and down at ${mibps(f.s3.largeDown!)} from ${s3.client}.`,
    `The small-object batch (${s3.batch.count} × ${sizeMiB(s3.batch.sizeBytes)}) reached ${rate(f.s3.putRate!)} PUT/s and ${rate(f.s3.getRate!)} GET/s one at a time, and ${rate(f.s3.parallelPutRate!)} PUT/s and ${rate(f.s3.parallelGetRate!)} GET/s with ${s3.parallel.concurrency} concurrent jobs (${(f.s3.parallelPutRate! / f.s3.putRate!).toFixed(2)}× and ${(f.s3.parallelGetRate! / f.s3.getRate!).toFixed(2)}× the sequential rates).`,
  ];
  if (s3.replicas !== undefined && (s3.replicas !== 3 || s3.writeQuorum !== 2)) {
    bullets.push(`The issue states its S3 targets at R = 3, W = 2; this lab ran R = ${s3.replicas}, W = ${s3.writeQuorum ?? "?"} (${s3.storageNodes ?? "?"} storage nodes), so the upload figure carries ${s3.replicas} copies per chunk.`);
  }
  return bullets;
}

function baselineBullets(result: BenchResult): string[] {
  if (!measured(result.network)) return [`The network baselines were not measured: ${result.network.reason}.`];
  const runs = result.network.baselines.map((b) => `${b.from}->${b.to} ${mibps(b.mibps)} with ${b.retransmits} retransmits`);
  return [`TCP baselines: ${runs.join("; ")}${linkWords(result)}.`];
}

function linkWords(result: BenchResult): string {
  const env = result.environment;
  if (env.network === "loopback" || !env.linkRate) return `, on ${env.network === "loopback" ? "loopback" : "unshaped veths"} (no link shaping: the "link" is memory copies on the same ${env.cpus} CPU cores as both ends)`;
  return `, over links shaped to ${env.linkRate}${env.linkDelay ? ` with ${env.linkDelay} delay` : ""}`;
}

function targetBullet(target: TargetDef, f: Figures, result: BenchResult): string {
  const value = target.value(f);
  const show = (v: number) => (target.unit === "seconds" ? seconds(v) : target.bound === 1 ? `${v.toFixed(2)}×` : pct(v));
  const bound = `${target.direction === "atLeast" ? "≥" : "≤"} ${show(target.bound)}`;
  if (value === undefined) return `Target ${bound} for ${target.what}: not measured in this run.`;
  const met = target.direction === "atLeast" ? value >= target.bound : value <= target.bound;
  const gap = Math.abs(value - target.bound);
  const by = target.unit === "ratio" ? (target.bound === 1 ? `${gap.toFixed(2)}×` : `${(gap * 100).toFixed(1)} points`) : seconds(gap);
  const seedValue = target.value(SEED_FIGURES);
  const seedWords = seedValue === undefined ? "" : `; seed ${show(seedValue)}`;
  if (met) return `Target met: ${target.what} is ${show(value)} (target ${bound}, ${by} to spare${seedWords}).`;
  return `Target missed by ${by}: ${target.what} is ${show(value)} (target ${bound}${seedWords}); ${limitWords(target, result)}.`;
}

/** What limits a figure that falls short, from how the lab ran. */
function limitWords(target: TargetDef, result: BenchResult): string {
  const env = result.environment;
  const shaped = env.network === "netns" && env.linkRate !== undefined;
  const cores = `${env.cpus}-core host`;
  if (target.limit === "exporter") {
    return `both exporters serve the same worker disk through the page cache with fio on the same ${cores}, so the gap is the node-local export's own per-request cost in userspace`;
  }
  if (!shaped) {
    return `on this ${env.network} lab without link shaping the TCP baseline is a memory copy, so the path is bounded by the CPU of a ${cores} that runs client, servers and ${target.limit === "cpu" ? "replica writes" : "the exporter"} at once, not by a link`;
  }
  switch (target.limit) {
    case "link":
      return `the ${env.linkRate} link is the ceiling; the shortfall is lost above TCP (request framing, checksums, one stream)`;
    case "cpu":
      return `each chunk is hashed, checksummed and sent to R nodes over the same ${env.linkRate} link, on a ${cores}`;
    case "protocol":
      return `NBD request round trips${env.linkDelay ? ` over ${env.linkDelay} links` : ""} and the exporter's CPU on a ${cores} cost what the link does not`;
  }
}

const lower = (label: string) => label.charAt(0).toLowerCase() + label.slice(1);
