/** One fio job profile. */
export interface FioJob {
  name: string;
  rw: "read" | "write" | "randread" | "randwrite";
  bs: string;
  iodepth: number;
}

/** Throughput of one fio run. */
export interface FioResult {
  mibps: number;
  iops: number;
}

/** What fio drives: an NBD URI (fio's nbd engine, libnbd) or a local file. */
export type FioTarget = { uri: string } | { file: string };

/** How fio is run beyond the job itself. */
export interface FioRunOptions {
  /** Seconds of warm-up not counted (default 1). */
  rampSeconds?: number;
  /** Turns fio's argv into the command to run, e.g. inside a lab node's namespace. */
  wrap?: (argv: string[]) => string[];
}

/** The engine flags for a target; the same page-cache policy for every column. */
function engineArgs(job: Pick<FioJob, "iodepth">, target: FioTarget): string[] {
  if ("uri" in target) return ["--ioengine=nbd", `--uri=${target.uri}`];
  // invalidate=0: keep the page cache, which every exporter reads through too.
  return [job.iodepth > 1 ? "--ioengine=libaio" : "--ioengine=psync", `--filename=${target.file}`, "--invalidate=0"];
}

/** Runs fio against `target` for `seconds` over the first `size` bytes. */
export async function runFio(job: FioJob, target: FioTarget, seconds: number, size = "1G", options: FioRunOptions = {}): Promise<FioResult> {
  const { rampSeconds = 1, wrap = (argv: string[]) => argv } = options;
  const args = [
    "fio", "--name=bench", ...engineArgs(job, target), `--rw=${job.rw}`, `--bs=${job.bs}`, `--iodepth=${job.iodepth}`,
    `--size=${size}`, "--time_based", `--runtime=${seconds}`, `--ramp_time=${rampSeconds}`, "--output-format=json",
  ];
  const json = parseFioJson(await runFioProcess(wrap(args)));
  const stats = job.rw.includes("write") ? json.jobs[0]!.write : json.jobs[0]!.read;
  return { mibps: stats.bw / 1024, iops: stats.iops };
}

/** Writes `size` bytes of sequential 1 MiB blocks once (not time based): a volume fully allocated before reads are measured. */
export async function fillWithFio(target: FioTarget, size: string, options: Pick<FioRunOptions, "wrap"> = {}): Promise<FioResult> {
  const { wrap = (argv: string[]) => argv } = options;
  const args = ["fio", "--name=fill", ...engineArgs({ iodepth: 8 }, target), "--rw=write", "--bs=1M", "--iodepth=8", `--size=${size}`, "--output-format=json"];
  const stats = parseFioJson(await runFioProcess(wrap(args))).jobs[0]!.write;
  return { mibps: stats.bw / 1024, iops: stats.iops };
}

async function runFioProcess(argv: string[]): Promise<string> {
  const proc = Bun.spawn(argv, { stdout: "pipe", stderr: "pipe" });
  const [out, err, code] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text(), proc.exited]);
  if (code !== 0) throw new Error(`fio failed (${code}): ${err.trim() || out.trim()}`);
  return out;
}

type Stats = { bw: number; iops: number };

function parseFioJson(out: string): { jobs: { read: Stats; write: Stats }[] } {
  // fio may print warnings before its JSON document.
  return JSON.parse(out.slice(out.indexOf("{"))) as { jobs: { read: Stats; write: Stats }[] };
}
