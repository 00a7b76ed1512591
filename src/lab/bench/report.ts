import { assess } from "./assessment.ts";
import { s3Rates } from "./figures.ts";
import { iops, mibps, rate, seconds, sizeMiB } from "./format.ts";
import { markdownTable } from "./markdown.ts";
import { measured, type BenchResult, type CoronaSection, type FioJobKey, type NotMeasured, type S3Profile } from "./result.ts";

/** The chart files a report links to, relative to the markdown file. */
export interface ChartLinks {
  coronafs?: string;
  s3?: string;
  seed?: string;
}

const fioRows: { key: FioJobKey; label: string; unit: "MiB/s" | "IOPS" }[] = [
  { key: "seqWrite", label: "Sequential write", unit: "MiB/s" },
  { key: "seqRead", label: "Sequential read", unit: "MiB/s" },
  { key: "randRead", label: "4k random read", unit: "IOPS" },
  { key: "randReadQ32", label: "4k queued random read (`iodepth=32`)", unit: "IOPS" },
  { key: "q32Write", label: "Depth-32 write", unit: "MiB/s" },
  { key: "q32Read", label: "Depth-32 read", unit: "MiB/s" },
];

const notMeasured = (section: NotMeasured) => `Not measured: ${section.reason}.`;
const value = (unit: "MiB/s" | "IOPS", v: number) => (unit === "MiB/s" ? mibps(v) : iops(v));

/** The report in the seed's layout: sections, tables, then the assessment computed from the same numbers. */
export function renderReport(result: BenchResult, charts: ChartLinks = {}): string {
  const env = result.environment;
  const unavailable = env.linkDelayUnavailable ? ` (the ${env.linkDelayUnavailable.requested} delay asked for was not applied: ${env.linkDelayUnavailable.reason})` : "";
  const link = (env.linkRate ? `links shaped to ${env.linkRate}${env.linkDelay ? `, ${env.linkDelay} delay` : ""}` : "no link shaping") + unavailable;
  const parts = [
    "# Storage Benchmarks",
    `Generated on ${result.generatedAt} with:`,
    "```bash\n" + result.command + "\n```",
    `Lab: ${env.nodes} nodes on \`${env.host}\` (${env.cpus} CPUs, Linux ${env.kernel}), ${env.network} network, ${link}${result.quick ? "; **quick run** (shortened measurements, for CI)" : ""}. The run took ${seconds(result.durationSeconds)}.`,
    "## CoronaFS",
    ...coronaParts(result),
    "## LightningStor",
    ...lightningParts(result),
    "## VM Image Path",
    ...vmImageParts(result),
    "## VM Runtime Path",
    ...vmRuntimeParts(result),
  ];
  const chartLines = [
    charts.coronafs && `![CoronaFS paths against the worker's local disk](${charts.coronafs})`,
    charts.s3 && `![LightningStor against the link baseline](${charts.s3})`,
    charts.seed && `![This run's ratios beside the seed's](${charts.seed})`,
  ].filter((line): line is string => Boolean(line));
  if (chartLines.length > 0) parts.push("## Charts", chartLines.join("\n\n"));
  parts.push("## Assessment", assess(result).map((b) => `- ${b}`).join("\n"));
  return parts.join("\n\n") + "\n";
}

function baseline(result: BenchResult, role: "coronafs" | "lightningstor"): string[] {
  if (!measured(result.network)) return [notMeasured(result.network)];
  const run = result.network.baselines.find((b) => b.role === role);
  if (!run) return ["Not measured."];
  return [
    `Cluster network baseline, measured with \`iperf3\` from \`${run.from}\` to \`${run.to}\` before the storage tests (${run.seconds} s):`,
    markdownTable(["Metric", "Result"], [["TCP throughput", mibps(run.mibps)], ["TCP retransmits", run.retransmits]]),
  ];
}

function coronaParts(result: BenchResult): string[] {
  const corona = result.coronafs;
  const parts = baseline(result, "coronafs");
  if (!measured(corona)) return [...parts, notMeasured(corona)];
  const row = (key: FioJobKey, label: string, unit: "MiB/s" | "IOPS") => [label, ...(["local", "controller", "nodeLocal"] as const).map((c) => value(unit, corona.columns[c][key]))];
  const headers = ["Metric", "Local Disk", "Controller Export", "Node-local Export"];
  parts.push(
    `Measured from \`${corona.worker}\`. Local worker disk is the baseline (a file in the worker's data dir); the controller export is node01's \`nbd-export\` over TCP, the node-local export is the volume materialized onto \`${corona.worker}\` and served by its agent on a unix socket.`,
    `fio settings, the same for all three columns: ${fioSettings(corona)}.`,
    markdownTable(headers, fioRows.slice(0, 4).map((r) => row(r.key, r.label, r.unit))),
    "Queue-depth profile (`iodepth=32`) from the same worker:",
    markdownTable(headers, fioRows.slice(4).map((r) => row(r.key, r.label, r.unit))),
    ...nbdkitParts(corona),
    "Node-local materialization timing and target-node steady-state read path:",
    markdownTable(["Metric", "Result"], [
      ...corona.materialize.map((m) => [`${capital(m.node)} materialize latency (${sizeMiB(m.bytes)}, ${mibps(m.mibps)})`, seconds(m.seconds)]),
      ...(corona.secondNodeRead ? [[`${capital(corona.secondNodeRead.node)} node-local sequential read`, mibps(corona.secondNodeRead.mibps)]] : []),
    ]),
  );
  return parts;
}

function nbdkitParts(corona: CoronaSection): string[] {
  const nbdkit = corona.nbdkit;
  if (!nbdkit) return [];
  return [
    `The node-local export against nbdkit's file plugin serving a file of the same size on \`${corona.worker}\`'s disk over a unix socket, same fio jobs (the userspace limit):`,
    markdownTable(["Metric", "Node-local Export", "nbdkit", "Node-local / nbdkit"], fioRows.map((r) => [r.label, value(r.unit, corona.columns.nodeLocal[r.key]), value(r.unit, nbdkit[r.key]), `${(corona.columns.nodeLocal[r.key] / nbdkit[r.key]).toFixed(2)}×`])),
  ];
}

function fioSettings(corona: CoronaSection): string {
  const f = corona.fio;
  return `${f.cache}; 1 MiB blocks for sequential and depth-32 jobs, 4 KiB for random reads; iodepth 1 except the \`iodepth=32\` jobs; ${f.size} region, ${f.runtimeSeconds} s time-based runs after ${f.rampSeconds} s ramp; ${f.engines}`;
}

function capital(name: string): string {
  return name.charAt(0).toUpperCase() + name.slice(1);
}

function lightningParts(result: BenchResult): string[] {
  const s3 = result.lightningstor;
  if (!measured(s3)) return [...baseline(result, "lightningstor"), notMeasured(s3)];
  const rw = s3.replicas === undefined ? "" : ` (R = ${s3.replicas} copies per chunk, write quorum W = ${s3.writeQuorum ?? "?"}${s3.storageNodes ? `, ${s3.storageNodes} storage nodes` : ""})`;
  const large = s3Rates(s3.large);
  const batch = (p: S3Profile, prefix: string) => {
    const r = s3Rates(p);
    return markdownTable(["Metric", "Result"], [
      [`${prefix}atch upload throughput`, mibps(r.up)],
      [`${prefix}atch download throughput`, mibps(r.down)],
      [`${prefix === "B" ? "" : "Parallel "}PUT rate`, `${rate(r.putRate)} objects/s`],
      [`${prefix === "B" ? "" : "Parallel "}GET rate`, `${rate(r.getRate)} objects/s`],
    ]);
  };
  return [
    `Measured from \`${s3.client}\` against the S3-compatible endpoint on \`node01\` (${s3.endpoint}), with \`@aws-sdk/client-s3\` at default settings running on \`${s3.client}\`.`,
    `The object path exercised the distributed backend with replication across the worker storage nodes${rw}.`,
    ...baseline(result, "lightningstor"),
    "### Large-object path",
    markdownTable(["Metric", "Result"], [["Object size", sizeMiB(s3.large.sizeBytes)], ["Upload throughput", mibps(large.up)], ["Download throughput", mibps(large.down)]]),
    "### Small-object batch",
    `Measured as ${s3.batch.count} objects of ${sizeMiB(s3.batch.sizeBytes)} each (${sizeMiB(s3.batch.count * s3.batch.sizeBytes)} total).`,
    batch(s3.batch, "B"),
    "### Parallel small-object batch",
    `Measured as the same ${s3.parallel.count} objects of ${sizeMiB(s3.parallel.sizeBytes)} each, but with ${s3.parallel.concurrency} concurrent client jobs from \`${s3.client}\`.`,
    batch(s3.parallel, "Parallel b"),
  ];
}

function vmImageParts(result: BenchResult): string[] {
  const v = result.vmImage;
  if (!measured(v)) return [notMeasured(v)];
  return [
    "Measured against the `PlasmaVMC -> LightningStor artifact -> CoronaFS-backed managed volume` clone path on `node01`.",
    markdownTable(["Metric", "Result"], [
      ["Guest image artifact size", `${v.artifactMiB.toFixed(0)} MiB`],
      ["Guest image virtual size", `${v.virtualMiB.toFixed(0)} MiB`],
      ["`CreateImage` latency", seconds(v.createImageSeconds)],
      ["First image-backed `CreateVolume` latency", seconds(v.firstCloneSeconds)],
      ["Second image-backed `CreateVolume` latency", seconds(v.secondCloneSeconds)],
    ]),
  ];
}

function vmRuntimeParts(result: BenchResult): string[] {
  const v = result.vmRuntime;
  if (!measured(v)) return [notMeasured(v)];
  return [
    `Measured against the real \`StartVm -> qemu attach -> guest boot -> guest fio\` path on \`${v.node}\`, using a CoronaFS-backed root disk (a qcow2 clone of the image on the node's cached base) and a data disk, both attached through the node's own export.`,
    markdownTable(["Metric", "Result"], [
      ["`StartVm` to qemu attach", seconds(v.attachSeconds)],
      ...(v.coldAttachSeconds === undefined ? [] : [["`StartVm` to qemu attach, base not yet on the node", seconds(v.coldAttachSeconds)]]),
      ["`StartVm` to guest benchmark result", seconds(v.guestResultSeconds)],
      ["Guest sequential write", mibps(v.guestSeqWriteMiBps)],
      ["Guest sequential read", mibps(v.guestSeqReadMiBps)],
      ["Guest 4k random read", iops(v.guestRandReadIops)],
    ]),
  ];
}
