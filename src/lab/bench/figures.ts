import { measured, type BenchResult, type CoronaColumn, type FioValues, type S3Profile } from "./result.ts";

const MiB = 1024 * 1024;

/**
 * The numbers of one run, flat: what ratios, targets and the seed comparison
 * are computed from. The seed's published report has the same shape (seed.ts),
 * so one formula serves both. A missing number is undefined.
 */
export interface Figures {
  tcpWorker?: number;
  tcpWorkerRetransmits?: number;
  tcpClient?: number;
  tcpClientRetransmits?: number;
  fio: Partial<Record<CoronaColumn, Partial<FioValues>>>;
  /** nbdkit serving a same-size file on the worker (this run only; the seed had no such column). */
  nbdkit?: Partial<FioValues>;
  materializeFirstSeconds?: number;
  materializeSecondSeconds?: number;
  /** Bytes copied per second by the first materialization, MiB/s. */
  materializeFirstMiBps?: number;
  secondNodeRead?: number;
  s3: {
    largeSizeMiB?: number;
    largeUp?: number;
    largeDown?: number;
    batchUp?: number;
    batchDown?: number;
    putRate?: number;
    getRate?: number;
    parallelUp?: number;
    parallelDown?: number;
    parallelPutRate?: number;
    parallelGetRate?: number;
  };
  vm: {
    artifactMiB?: number;
    virtualMiB?: number;
    createImageSeconds?: number;
    firstCloneSeconds?: number;
    secondCloneSeconds?: number;
    attachSeconds?: number;
    guestResultSeconds?: number;
    guestSeqWrite?: number;
    guestSeqRead?: number;
    guestRandRead?: number;
  };
}

/** MiB/s up and down and objects/s of one S3 profile. */
export function s3Rates(profile: S3Profile) {
  const mib = (profile.count * profile.sizeBytes) / MiB;
  return {
    up: mib / profile.putSeconds,
    down: mib / profile.getSeconds,
    putRate: profile.count / profile.putSeconds,
    getRate: profile.count / profile.getSeconds,
  };
}

/** Flattens a run into its figures. */
export function figuresOf(result: BenchResult): Figures {
  const figures: Figures = { fio: {}, s3: {}, vm: {} };
  if (measured(result.network)) {
    const worker = result.network.baselines.find((b) => b.role === "coronafs");
    const client = result.network.baselines.find((b) => b.role === "lightningstor");
    figures.tcpWorker = worker?.mibps;
    figures.tcpWorkerRetransmits = worker?.retransmits;
    figures.tcpClient = client?.mibps;
    figures.tcpClientRetransmits = client?.retransmits;
  }
  const corona = result.coronafs;
  if (measured(corona)) {
    figures.fio = corona.columns;
    figures.nbdkit = corona.nbdkit;
    figures.materializeFirstSeconds = corona.materialize[0]?.seconds;
    figures.materializeFirstMiBps = corona.materialize[0]?.mibps;
    figures.materializeSecondSeconds = corona.materialize[1]?.seconds;
    figures.secondNodeRead = corona.secondNodeRead?.mibps;
  }
  const s3 = result.lightningstor;
  if (measured(s3)) {
    const large = s3Rates(s3.large);
    const batch = s3Rates(s3.batch);
    const parallel = s3Rates(s3.parallel);
    figures.s3 = {
      largeSizeMiB: s3.large.sizeBytes / MiB,
      largeUp: large.up,
      largeDown: large.down,
      batchUp: batch.up,
      batchDown: batch.down,
      putRate: batch.putRate,
      getRate: batch.getRate,
      parallelUp: parallel.up,
      parallelDown: parallel.down,
      parallelPutRate: parallel.putRate,
      parallelGetRate: parallel.getRate,
    };
  }
  if (measured(result.vmImage)) {
    const v = result.vmImage;
    Object.assign(figures.vm, { artifactMiB: v.artifactMiB, virtualMiB: v.virtualMiB, createImageSeconds: v.createImageSeconds, firstCloneSeconds: v.firstCloneSeconds, secondCloneSeconds: v.secondCloneSeconds });
  }
  if (measured(result.vmRuntime)) {
    const v = result.vmRuntime;
    Object.assign(figures.vm, {
      attachSeconds: v.attachSeconds,
      guestResultSeconds: v.guestResultSeconds,
      guestSeqWrite: v.guestSeqWriteMiBps,
      guestSeqRead: v.guestSeqReadMiBps,
      guestRandRead: v.guestRandReadIops,
    });
  }
  return figures;
}
