import type { Figures } from "./figures.ts";
import { fioJobKeys, type CoronaColumn, type FioJobKey } from "./result.ts";

/** A ratio the seed's assessment states, computed the same way from any run's figures. */
export interface RatioDef {
  id: string;
  /** Short label for charts. */
  label: string;
  /** What is divided by what, for a sentence: "controller-export sequential reads … of the local-disk baseline". */
  subject: string;
  baseline: string;
  value(f: Figures): number | undefined;
}

const div = (a: number | undefined, b: number | undefined) => (a === undefined || b === undefined || b === 0 ? undefined : a / b);
const fio = (column: CoronaColumn, job: FioJobKey) => (f: Figures) => f.fio[column]?.[job];
const vsLocal = (column: CoronaColumn, job: FioJobKey) => (f: Figures) => div(fio(column, job)(f), fio("local", job)(f));

const pathName: Record<Exclude<CoronaColumn, "local">, string> = { controller: "controller-export", nodeLocal: "node-local" };
const jobName: Partial<Record<FioJobKey, [string, string]>> = {
  seqRead: ["sequential reads", "local-disk"],
  randRead: ["4k random reads", "local-disk"],
  randReadQ32: ["queued 4k random reads", "local queued-random-read"],
  q32Read: ["depth-32 reads", "local depth-32"],
};
const corona = (column: "controller" | "nodeLocal", job: FioJobKey, short: string): RatioDef => ({
  id: `${column}-${job}-vs-local`,
  label: `${column === "controller" ? "Controller" : "Node-local"} ${short} / local`,
  subject: `CoronaFS ${pathName[column]} ${jobName[job]![0]}`,
  baseline: `the measured ${jobName[job]![1]} baseline`,
  value: vsLocal(column, job),
});

/** Every ratio the seed's assessment states, in its order. */
export const SEED_RATIOS: RatioDef[] = [
  corona("controller", "seqRead", "seq read"),
  corona("controller", "randRead", "4k rand read"),
  corona("controller", "randReadQ32", "4k QD32 read"),
  {
    id: "controller-seqRead-vs-tcp",
    label: "Controller seq read / TCP",
    subject: "CoronaFS controller-export sequential reads",
    baseline: "the worker's TCP baseline to node01",
    value: (f) => div(f.fio.controller?.seqRead, f.tcpWorker),
  },
  corona("controller", "q32Read", "depth-32 read"),
  corona("nodeLocal", "seqRead", "seq read"),
  corona("nodeLocal", "randRead", "4k rand read"),
  corona("nodeLocal", "randReadQ32", "4k QD32 read"),
  corona("nodeLocal", "q32Read", "depth-32 read"),
  {
    id: "second-node-read-vs-local",
    label: "2nd target read / local",
    subject: "The second materialize target's node-local sequential reads",
    baseline: "the worker's local sequential-read baseline",
    value: (f) => div(f.secondNodeRead, f.fio.local?.seqRead),
  },
  {
    id: "s3-download-vs-tcp",
    label: "S3 large GET / TCP",
    subject: "LightningStor large-object downloads",
    baseline: "the S3 client's TCP baseline to node01",
    value: (f) => div(f.s3.largeDown, f.tcpClient),
  },
  {
    id: "s3-upload-vs-tcp",
    label: "S3 large PUT / TCP",
    subject: "LightningStor large-object uploads",
    baseline: "the S3 client's TCP baseline to node01",
    value: (f) => div(f.s3.largeUp, f.tcpClient),
  },
];

/** A target of issue 12: a figure (ratio or seconds) that must reach a bound. */
export interface TargetDef {
  id: string;
  /** "controller-export sequential read vs the TCP baseline". */
  what: string;
  /** ≥ bound for ratios, ≤ bound for latencies. */
  direction: "atLeast" | "atMost";
  bound: number;
  unit: "ratio" | "seconds";
  value(f: Figures): number | undefined;
  /** What limits this figure when it falls short, given how the lab ran. */
  limit: "link" | "cpu" | "protocol" | "exporter";
}

const seqReadVsTcp = SEED_RATIOS.find((r) => r.id === "controller-seqRead-vs-tcp")!;
const downVsTcp = SEED_RATIOS.find((r) => r.id === "s3-download-vs-tcp")!;
const upVsTcp = SEED_RATIOS.find((r) => r.id === "s3-upload-vs-tcp")!;

/** The targets of issue 12 (ratios from one run). */
export const TARGETS: TargetDef[] = [
  { id: "controller-read", what: "controller-export sequential read vs the worker's TCP baseline", direction: "atLeast", bound: 0.98, unit: "ratio", value: seqReadVsTcp.value, limit: "protocol" },
  {
    id: "materialize",
    what: "materialize of a fully written volume vs the worker's TCP baseline",
    direction: "atLeast",
    bound: 0.95,
    unit: "ratio",
    value: (f) => div(f.materializeFirstMiBps, f.tcpWorker),
    limit: "protocol",
  },
  {
    id: "node-local-vs-nbdkit",
    what: "node-local export vs nbdkit on the same worker, worst fio job",
    direction: "atLeast",
    bound: 1,
    unit: "ratio",
    value: (f) => nodeLocalVsNbdkit(f)?.worst.ratio,
    limit: "exporter",
  },
  { id: "s3-download", what: "S3 large-object download vs the client's TCP baseline", direction: "atLeast", bound: 0.95, unit: "ratio", value: downVsTcp.value, limit: "link" },
  { id: "s3-upload", what: "S3 large-object upload vs the client's TCP baseline", direction: "atLeast", bound: 0.7, unit: "ratio", value: upVsTcp.value, limit: "cpu" },
  { id: "second-clone", what: "second image-backed CreateVolume", direction: "atMost", bound: 0.02, unit: "seconds", value: (f) => f.vm.secondCloneSeconds, limit: "protocol" },
  { id: "attach", what: "StartVm to QEMU attach", direction: "atMost", bound: 0.2, unit: "seconds", value: (f) => f.vm.attachSeconds, limit: "protocol" },
];

/** The node-local export's result over nbdkit's for every fio job, and the worst of them; undefined without an nbdkit column. */
export function nodeLocalVsNbdkit(f: Figures): { byJob: Record<FioJobKey, number>; worst: { job: FioJobKey; ratio: number } } | undefined {
  const nodeLocal = f.fio.nodeLocal;
  const nbdkit = f.nbdkit;
  if (!nodeLocal || !nbdkit) return undefined;
  const byJob = {} as Record<FioJobKey, number>;
  for (const job of fioJobKeys) {
    const ratio = div(nodeLocal[job], nbdkit[job]);
    if (ratio === undefined) return undefined;
    byJob[job] = ratio;
  }
  const worst = fioJobKeys.map((job) => ({ job, ratio: byJob[job] })).sort((a, b) => a.ratio - b.ratio)[0]!;
  return { byJob, worst };
}
