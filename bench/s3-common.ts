/**
 * What the S3 benchmarks share (bench/s3.ts, bench/s3-metadata.ts): the
 * profiles, the client-side load loop, and starting Photon's processes on a
 * loopback address of the run's own.
 */
import { DeleteObjectsCommand, GetObjectCommand, PutObjectCommand, type S3Client } from "@aws-sdk/client-s3";
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import type { Subprocess } from "bun";
import { cpuTicks } from "../src/lab/bench/process.ts";

export const MiB = 1024 * 1024;

/** One load: `count` objects of `size` bytes, at most `concurrency` requests in flight. */
export interface Profile {
  name: string;
  count: number;
  size: number;
  concurrency: number;
}

export const largeObject: Profile = { name: "Large object (256 MiB)", count: 1, size: 256 * MiB, concurrency: 1 };
export const smallObjects: Profile = { name: "Small objects (32 × 4 MiB)", count: 32, size: 4 * MiB, concurrency: 1 };
export const parallelSmallObjects: Profile = { name: "Parallel small objects (32 × 4 MiB, 8 jobs)", count: 32, size: 4 * MiB, concurrency: 8 };
/** Where metadata dominates: each request stores or reads one 4 KiB chunk and a row. */
export const tinyObjects: Profile = { name: "Tiny objects (1,000 × 4 KiB, 8 jobs)", count: 1000, size: 4096, concurrency: 8 };

/** A loopback address of this run's own (127.64.0.0/10), so runs beside others on the host do not meet on a port. */
export function runHost(): string {
  const byte = () => 1 + Math.floor(Math.random() * 254);
  return `127.${64 + Math.floor(Math.random() * 64)}.${byte()}.${byte()}`;
}

/** Waits until an HTTP server answers at `endpoint`. */
export async function reachable(endpoint: string): Promise<void> {
  for (let i = 0; i < 400; i++) {
    if (await fetch(endpoint).then(() => true, () => false)) return;
    await Bun.sleep(25);
  }
  throw new Error(`${endpoint} did not come up`);
}

/** Runs `count` operations with at most `concurrency` in flight; returns seconds. */
export async function timed(count: number, concurrency: number, op: (i: number) => Promise<void>): Promise<number> {
  const started = performance.now();
  let next = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < count) await op(next++);
    }),
  );
  return (performance.now() - started) / 1000;
}

/** CPU seconds the processes used (threads included) while `run` ran. */
export async function cpuOf<T>(pids: () => number[], run: () => Promise<T>): Promise<{ result: T; cpu: number }> {
  const ticks = () => pids().reduce((sum, pid) => sum + cpuTicksIfAlive(pid), 0);
  const before = ticks();
  const result = await run();
  return { result, cpu: (ticks() - before) / 100 };
}

function cpuTicksIfAlive(pid: number): number {
  try {
    return cpuTicks(pid);
  } catch {
    return 0; // a PostgreSQL backend that ended between listing and reading: its time is its parent's now
  }
}

/** PUTs `profile.count` objects under `prefix`, request i through `clients[i % n]`. */
export function putAll(clients: S3Client[], bucket: string, prefix: string, profile: Profile, body: Buffer): Promise<number> {
  return timed(profile.count, profile.concurrency, async (i) => {
    await clients[i % clients.length]!.send(new PutObjectCommand({ Bucket: bucket, Key: `${prefix}/${i}`, Body: body }));
  });
}

/**
 * GETs them back, request i through `clients[(i + shift) % n]` (with two
 * gateways a shift of 1 reads each object through the one that did not
 * store it), checking each body's length.
 */
export function getAll(clients: S3Client[], bucket: string, prefix: string, profile: Profile, shift = 0): Promise<number> {
  return timed(profile.count, profile.concurrency, async (i) => {
    const out = await clients[(i + shift) % clients.length]!.send(new GetObjectCommand({ Bucket: bucket, Key: `${prefix}/${i}` }));
    let bytes = 0;
    for await (const chunk of out.Body as AsyncIterable<Uint8Array>) bytes += chunk.length;
    if (bytes !== profile.size) throw new Error(`${bucket}/${prefix}/${i}: read ${bytes} bytes, stored ${profile.size}`);
  });
}

/** Deletes what {@link putAll} stored (outside any timing), so a long run does not fill the disk. */
export async function deleteAll(client: S3Client, bucket: string, prefix: string, count: number): Promise<void> {
  for (let start = 0; start < count; start += 1000) {
    const keys = Array.from({ length: Math.min(1000, count - start) }, (_, k) => ({ Key: `${prefix}/${start + k}` }));
    const out = await client.send(new DeleteObjectsCommand({ Bucket: bucket, Delete: { Objects: keys, Quiet: true } }));
    if (out.Errors?.length) throw new Error(`deleting ${bucket}/${prefix}: ${out.Errors[0]!.Code} ${out.Errors[0]!.Message}`);
  }
}

export const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;

/** MiB/s, with a decimal where tiny objects make it small. */
export const rate = (mibPerS: number) => mibPerS.toFixed(mibPerS < 10 ? 1 : 0);

/** Seconds per run, sorted, for the spread tables. */
export const sorted = (values: number[]) => [...values].sort((a, b) => a - b).map((v) => v.toFixed(2)).join(" ");

/** A process and its children (a PostgreSQL server's backends): their PIDs now. */
export function withChildren(pid: number): number[] {
  const children = readdirSync("/proc")
    .filter((entry) => /^\d+$/.test(entry))
    .filter((entry) => {
      try {
        const stat = readFileSync(`/proc/${entry}/stat`, "utf8");
        return Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]) === pid;
      } catch {
        return false;
      }
    })
    .map(Number);
  return [pid, ...children];
}

/** Photon's processes of one benchmark run: storage nodes and gateways, on `host`, in `dir`, stopped together. */
export class PhotonFleet {
  readonly procs: Subprocess[] = [];

  constructor(
    private readonly binary: string,
    private readonly host: string,
    private readonly dir: string,
    private readonly env: Record<string, string | undefined>,
  ) {}

  spawn(args: string[]): Subprocess {
    const proc = Bun.spawn([this.binary, ...args], { env: this.env, stdout: "inherit", stderr: "inherit" });
    this.procs.push(proc);
    return proc;
  }

  /** A controller on port 19100 and `count` agents (storage nodes) from port 19111; their admin URLs. */
  async storageNodes(count: number): Promise<string[]> {
    const controller = `http://${this.host}:19100`;
    this.spawn(["controller", "--data-dir", join(this.dir, "controller"), "--listen", new URL(controller).host, "--log-level", "error"]);
    const urls = Array.from({ length: count }, (_, i) => `http://${this.host}:${19111 + i}`);
    for (const [i, url] of urls.entries()) {
      this.spawn(["agent", "--data-dir", join(this.dir, `agent${i + 1}`), "--listen", new URL(url).host, "--controller", controller, "--name", `agent${i + 1}`, "--log-level", "error"]);
      await reachable(`${url}/healthz`);
    }
    return urls;
  }

  /** A gateway in `dataDir` (under the run's dir) on `port`; `args` add replication and metadata. */
  async gateway(dataDir: string, port: number, args: string[]): Promise<{ endpoint: string; proc: Subprocess; dataDir: string }> {
    const path = join(this.dir, dataDir);
    const proc = this.spawn(["s3-gateway", "--data-dir", path, "--listen", `${this.host}:${port}`, "--admin", `${this.host}:0`, "--log-level", "warn", ...args]);
    const endpoint = `http://${this.host}:${port}`;
    await reachable(`${endpoint}/`);
    return { endpoint, proc, dataDir: path };
  }

  async stopAll(): Promise<void> {
    for (const proc of this.procs.reverse()) {
      proc.kill("SIGTERM");
      await proc.exited;
    }
  }
}
