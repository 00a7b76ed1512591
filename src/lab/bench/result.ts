/**
 * The JSON shape of one `photon lab bench-storage` run: what report.ts renders,
 * charts.ts draws and assessment.ts judges. Every section either holds its
 * numbers or says why it has none.
 */

/** A section that was not measured, and why (PlasmaVMC missing, a step failed). */
export interface NotMeasured {
  status: "not measured";
  reason: string;
}

/** One iperf3 run between two lab nodes. */
export interface NetworkBaseline {
  /** Which measurement it is the baseline of: the CoronaFS worker's link or the S3 client's. */
  role: "coronafs" | "lightningstor";
  from: string;
  to: string;
  mibps: number;
  retransmits: number;
  seconds: number;
}

export interface NetworkSection {
  status: "measured";
  baselines: NetworkBaseline[];
}

/** The fio jobs every CoronaFS column runs, in the seed's order. */
export const fioJobKeys = ["seqWrite", "seqRead", "randRead", "randReadQ32", "q32Write", "q32Read"] as const;
export type FioJobKey = (typeof fioJobKeys)[number];

/** The three CoronaFS columns of the seed: the worker's disk, node01's export over the link, the worker's own export. */
export const coronaColumns = ["local", "controller", "nodeLocal"] as const;
export type CoronaColumn = (typeof coronaColumns)[number];

/** One fio job's result in one column: MiB/s for 1 MiB jobs, IOPS for 4k jobs. */
export type FioValues = Record<FioJobKey, number>;

/** Materializing the benchmark volume from the controller export onto one worker. */
export interface Materialization {
  node: string;
  seconds: number;
  bytes: number;
  mibps: number;
}

export interface CoronaSection {
  status: "measured";
  worker: string;
  /** fio settings shared by all three columns, in words and flags. */
  fio: { size: string; runtimeSeconds: number; rampSeconds: number; cache: string; engines: string };
  /** Per column, per job. */
  columns: Record<CoronaColumn, FioValues>;
  materialize: Materialization[];
  /**
   * nbdkit's file plugin serving a file of the same size on the worker's disk over
   * a unix socket, the same fio jobs: the userspace exporter the node-local
   * export is held against.
   */
  nbdkit?: FioValues;
  /** The second materialize target's node-local sequential read, MiB/s. */
  secondNodeRead?: { node: string; mibps: number };
}

/** One S3 profile: `count` objects of `sizeBytes`, `concurrency` client jobs. */
export interface S3Profile {
  count: number;
  sizeBytes: number;
  concurrency: number;
  putSeconds: number;
  getSeconds: number;
}

export interface LightningSection {
  status: "measured";
  client: string;
  endpoint: string;
  /** Copies per chunk and the write quorum, as the gateway was started; undefined when it did not say. */
  replicas?: number;
  writeQuorum?: number;
  storageNodes?: number;
  large: S3Profile;
  batch: S3Profile;
  parallel: S3Profile;
}

/** `PlasmaVMC -> LightningStor artifact -> CoronaFS volume` clone path (see vm.ts). */
export interface VmImagePath {
  status: "measured";
  artifactMiB: number;
  virtualMiB: number;
  createImageSeconds: number;
  firstCloneSeconds: number;
  secondCloneSeconds: number;
}

/** `StartVm -> qemu attach -> guest boot -> guest fio` (see vm.ts). */
export interface VmRuntimePath {
  status: "measured";
  node: string;
  /** StartVm → attach with the image's base already on the node (the steady state the seed's figure stands for). */
  attachSeconds: number;
  /** The same for the first VM on the node: the base is materialized onto it first. */
  coldAttachSeconds?: number;
  guestResultSeconds: number;
  guestSeqWriteMiBps: number;
  guestSeqReadMiBps: number;
  guestRandReadIops: number;
}

/** Where and how the run happened. */
export interface BenchEnvironment {
  host: string;
  cpus: number;
  kernel: string;
  network: "netns" | "loopback";
  linkRate?: string;
  linkDelay?: string;
  /** A delay that was asked for but could not be applied (no sch_netem), and why. */
  linkDelayUnavailable?: { requested: string; reason: string };
  nodes: number;
}

/** One whole run. */
export interface BenchResult {
  version: 1;
  generatedAt: string;
  command: string;
  quick: boolean;
  durationSeconds: number;
  environment: BenchEnvironment;
  network: NetworkSection | NotMeasured;
  coronafs: CoronaSection | NotMeasured;
  lightningstor: LightningSection | NotMeasured;
  vmImage: VmImagePath | NotMeasured;
  vmRuntime: VmRuntimePath | NotMeasured;
}

/** Whether a section holds numbers. */
export function measured<T extends { status: string }>(section: T | NotMeasured): section is T {
  return section.status === "measured";
}
