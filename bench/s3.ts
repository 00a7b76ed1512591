/**
 * S3 benchmark: Photon's s3-gateway against a ceiling (bench/s3-ceiling.ts) —
 * a minimal Bun HTTP server on the same host that streams each PUT body to a
 * file with fsync while computing the hashes the request obliges, and serves
 * GETs with sendfile. The seed's three profiles, with @aws-sdk/client-s3 at
 * default settings, in one run.
 *
 * Each cell is the median of --reps runs, the two servers taking turns; each
 * phase starts once both servers are idle (see quiesce).
 *
 *   node_modules/.bin/bun bench/s3.ts [--reps 11] [--storage-nodes N] [--replication-mode chain|fanout|auto] [--photon PATH] [--metadata sqlite|postgres] [--only-small]
 *
 * `--photon` runs another build of the binary (e.g. an older commit's, to
 * compare with this one against the same ceiling). `--metadata postgres`
 * keeps the gateway's metadata in a throwaway PostgreSQL cluster on this host
 * (test/helpers/postgres.ts) instead of its SQLite file; `--only-small` runs
 * only the small-object profile (1,000 × 4 KiB, where metadata dominates) and
 * skips the 1 GiB memory run.
 */
import { CreateBucketCommand, GetObjectCommand, PutObjectCommand, S3Client } from "@aws-sdk/client-s3";
import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { parseArgs } from "node:util";
import type { Subprocess } from "bun";
import { markdownTable } from "../src/lab/bench/markdown.ts";
import { cpuTicks, peakRssMiB, quiesce, stop } from "../src/lab/bench/process.ts";
import { startPostgres } from "../test/helpers/postgres.ts";

const flags = parseArgs({
  options: {
    reps: { type: "string", default: "11" },
    "storage-nodes": { type: "string", default: "0" },
    "replication-mode": { type: "string" },
    photon: { type: "string", default: resolve(import.meta.dir, "../dist/photon") },
    metadata: { type: "string", default: "sqlite" },
    "only-small": { type: "boolean", default: false },
  },
}).values;
const photonBinary = resolve(flags.photon);
if (flags.metadata !== "sqlite" && flags.metadata !== "postgres") throw new Error(`--metadata: sqlite or postgres, not "${flags.metadata}"`);
/** A PostgreSQL cluster for the gateway's metadata with `--metadata postgres`: each gateway gets a database of its own. */
const postgres = flags.metadata === "postgres" ? startPostgres() : undefined;
const metadataArgs = async () => ["--metadata", postgres ? await postgres.createDatabase() : "sqlite"];
const reps = Number(flags.reps);
/** With N > 0, the gateway replicates over N agents on this host (default copies and quorum) instead of its data dir. */
const storageNodes = Number(flags["storage-nodes"]);

const MiB = 1024 * 1024;
/** A loopback address of this run's own (127.64.0.0/10), so runs beside others on the host do not meet on a port. */
const host = `127.${64 + Math.floor(Math.random() * 64)}.${1 + Math.floor(Math.random() * 254)}.${1 + Math.floor(Math.random() * 254)}`;
const dir = mkdtempSync(join(tmpdir(), "photon-bench-s3-"));
const credentials = { accessKeyId: "PHBENCHKEY000000000A", secretAccessKey: "bench-" + crypto.randomUUID() };

/** Waits until an HTTP server answers at `endpoint`. */
async function reachable(endpoint: string): Promise<void> {
  for (let i = 0; i < 200; i++) {
    if (await fetch(endpoint).then(() => true, () => false)) return;
    await Bun.sleep(25);
  }
  throw new Error(`${endpoint} did not come up`);
}

/** The ceiling (bench/s3-ceiling.ts), a process of its own like the gateway. */
async function startCeiling() {
  const proc = Bun.spawn([process.execPath, resolve(import.meta.dir, "s3-ceiling.ts"), join(dir, "ceiling"), "19001", host], { stdout: "inherit", stderr: "inherit" });
  await reachable(`http://${host}:19001/`);
  return { endpoint: `http://${host}:19001`, proc };
}

const photonEnv = { ...process.env, PHOTON_TOKEN: "bench", PHOTON_ACCESS_KEY: credentials.accessKeyId, PHOTON_SECRET_KEY: credentials.secretAccessKey };
const helpers: Subprocess[] = [];

/** A controller and `count` agents (storage nodes) on this host; their admin URLs. */
async function startStorageNodes(count: number): Promise<string[]> {
  const spawn = (args: string[]) => helpers.push(Bun.spawn([photonBinary, ...args, "--log-level", "error"], { env: photonEnv, stdout: "inherit", stderr: "inherit" }));
  spawn(["controller", "--data-dir", join(dir, "controller"), "--listen", `${host}:19100`]);
  const urls = Array.from({ length: count }, (_, i) => `http://${host}:${19111 + i}`);
  for (const [i, url] of urls.entries()) {
    spawn(["agent", "--data-dir", join(dir, `agent${i + 1}`), "--listen", new URL(url).host, "--controller", `http://${host}:19100`, "--name", `agent${i + 1}`]);
    await reachable(`${url}/healthz`);
  }
  return urls;
}

async function startPhoton(dataDir = "photon", port = 19000, nodes: string[] = []) {
  const mode = flags["replication-mode"] ? ["--replication-mode", flags["replication-mode"]] : [];
  const replication = nodes.length > 0 ? ["--storage-nodes", nodes.join(","), ...mode] : [];
  const proc = Bun.spawn(
    [photonBinary, "s3-gateway", "--data-dir", join(dir, dataDir), "--listen", `${host}:${port}`, "--admin", `${host}:0`, "--log-level", "warn", ...replication, ...(await metadataArgs())],
    { env: photonEnv, stdout: "inherit", stderr: "inherit" },
  );
  const endpoint = `http://${host}:${port}`;
  await reachable(`${endpoint}/`);
  return { endpoint, proc };
}

/** Peak RSS of a fresh gateway over one 1 GiB PutObject and GetObject (the issue's memory bound). */
async function oneGiBPeakRss(): Promise<number> {
  const gateway = await startPhoton("photon-1g", 19002, nodes);
  const s3 = new S3Client({ endpoint: gateway.endpoint, region: "us-east-1", forcePathStyle: true, credentials });
  await s3.send(new CreateBucketCommand({ Bucket: "big" }));
  await s3.send(new PutObjectCommand({ Bucket: "big", Key: "1g", Body: randomBytes(1024 * MiB) }));
  const out = await s3.send(new GetObjectCommand({ Bucket: "big", Key: "1g" }));
  for await (const _ of out.Body as AsyncIterable<Uint8Array>) {
    // drain
  }
  const rss = peakRssMiB(gateway.proc.pid);
  s3.destroy();
  await stop(gateway.proc);
  return rss;
}

interface Profile {
  name: string;
  count: number;
  size: number;
  concurrency: number;
}
const tinyObjects: Profile = { name: "Tiny objects (1,000 × 4 KiB, 8 jobs)", count: 1000, size: 4096, concurrency: 8 };
const profiles: Profile[] = flags["only-small"]
  ? [tinyObjects]
  : [
      { name: "Large object (256 MiB)", count: 1, size: 256 * MiB, concurrency: 1 },
      { name: "Small objects (32 × 4 MiB)", count: 32, size: 4 * MiB, concurrency: 1 },
      { name: "Parallel small objects (32 × 4 MiB, 8 jobs)", count: 32, size: 4 * MiB, concurrency: 8 },
      tinyObjects,
    ];

/** Runs `count` operations with at most `concurrency` in flight; returns seconds. */
async function timed(count: number, concurrency: number, op: (i: number) => Promise<void>): Promise<number> {
  const started = performance.now();
  let next = 0;
  await Promise.all(Array.from({ length: concurrency }, async () => {
    while (next < count) await op(next++);
  }));
  return (performance.now() - started) / 1000;
}

/** CPU seconds the processes used (threads included) while `run` ran. */
async function cpuOf<T>(pids: number[], run: () => Promise<T>): Promise<{ result: T; cpu: number }> {
  const ticks = () => pids.reduce((sum, pid) => sum + cpuTicks(pid), 0);
  const before = ticks();
  const result = await run();
  return { result, cpu: (ticks() - before) / 100 };
}

/**
 * One profile on one server (whose processes are `pids`): seconds up and
 * down, each timed once both servers are idle, and the CPU seconds the
 * server spent — the measure a loaded host distorts least.
 */
async function runProfile(s3: S3Client, bucket: string, profile: Profile, data: Buffer[], rep: number, pids: number[]) {
  const body = profile.size === 256 * MiB ? data[0]! : data[1]!.subarray(0, profile.size);
  const key = (i: number) => `${profile.count}-${profile.concurrency}/${rep}/${i}`;
  await quiesce(serverPids);
  const up = await cpuOf(pids, () =>
    timed(profile.count, profile.concurrency, async (i) => {
      await s3.send(new PutObjectCommand({ Bucket: bucket, Key: key(i), Body: body }));
    }),
  );
  await quiesce(serverPids);
  const down = await cpuOf(pids, () =>
    timed(profile.count, profile.concurrency, async (i) => {
      const out = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key(i) }));
      for await (const _ of out.Body as AsyncIterable<Uint8Array>) {
        // drain
      }
    }),
  );
  return { up: up.result, down: down.result, upCpu: up.cpu, downCpu: down.cpu };
}

const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;

const data = [randomBytes(256 * MiB), randomBytes(4 * MiB)];
const ceiling = await startCeiling();
const nodes = storageNodes > 0 ? await startStorageNodes(storageNodes) : [];
const photon = await startPhoton("photon", 19000, nodes);
const serverPids = [ceiling.proc.pid, photon.proc.pid, ...helpers.map((p) => p.pid)];
const clients = {
  ceiling: new S3Client({ endpoint: ceiling.endpoint, region: "us-east-1", forcePathStyle: true, credentials }),
  photon: new S3Client({ endpoint: photon.endpoint, region: "us-east-1", forcePathStyle: true, credentials }),
};
await clients.photon.send(new CreateBucketCommand({ Bucket: "photon" }));
const results = profiles.map((profile) => {
  const runs = () => ({ up: [] as number[], down: [] as number[], upCpu: [] as number[], downCpu: [] as number[] });
  return { profile, ceiling: runs(), photon: runs() };
});
const pidsOf = { ceiling: [ceiling.proc.pid], photon: [photon.proc.pid, ...helpers.map((p) => p.pid)] };
for (const result of results) {
  for (let rep = 0; rep < reps; rep++) {
    for (const name of rep % 2 === 0 ? (["ceiling", "photon"] as const) : (["photon", "ceiling"] as const)) {
      const r = await runProfile(clients[name], name, result.profile, data, rep, pidsOf[name]);
      result[name].up.push(r.up);
      result[name].down.push(r.down);
      result[name].upCpu.push(r.upCpu);
      result[name].downCpu.push(r.downCpu);
      console.error(`${name}: ${result.profile.name}: up ${r.up.toFixed(2)} s, down ${r.down.toFixed(2)} s`);
    }
  }
}
const rss = peakRssMiB(photon.proc.pid);
clients.ceiling.destroy();
clients.photon.destroy();
await stop(ceiling.proc);
await stop(photon.proc);
const rss1g = flags["only-small"] ? undefined : await oneGiBPeakRss();
for (const proc of helpers) await stop(proc);
postgres?.stop();

/** MiB/s, with a decimal where tiny objects make it small. */
const rate = (mibPerS: number) => mibPerS.toFixed(mibPerS < 10 ? 1 : 0);
const rows = results.flatMap(({ profile, ceiling: c, photon: p }) => {
  const mib = (profile.count * profile.size) / MiB;
  const row = (dir: "up" | "down") => {
    const ph = median(p[dir]);
    const ce = median(c[dir]);
    const cpu = (runs: { upCpu: number[]; downCpu: number[] }) => `${((median(dir === "up" ? runs.upCpu : runs.downCpu) * 1024) / mib).toFixed(2)}`;
    return [`${profile.name} ${dir === "up" ? "PUT" : "GET"}`, `${rate(mib / ph)} MiB/s`, `${(profile.count / ph).toFixed(1)}`, `${rate(mib / ce)} MiB/s`, `${(ce / ph).toFixed(2)}×`, cpu(p), cpu(c)];
  };
  return [row("up"), row("down")];
});
const replicated = storageNodes > 0 ? `, chunks replicated over ${storageNodes} agents on the same host${flags["replication-mode"] ? ` (${flags["replication-mode"]})` : ""}` : "";
const layout = `${replicated}, metadata on ${flags.metadata === "postgres" ? "PostgreSQL (same host, unix socket)" : "SQLite"}`;
console.log(`\n### S3 (@aws-sdk/client-s3 defaults, same host${layout}, median of ${reps})\n`);
console.log(markdownTable(["profile", "photon", "photon objects/s", "ceiling", "photon / ceiling", "photon CPU s/GiB", "ceiling CPU s/GiB"], rows));
console.log(`\nPeak RSS of the gateway: ${rss.toFixed(0)} MiB over the run${rss1g === undefined ? "" : `; ${rss1g.toFixed(0)} MiB for one 1 GiB PUT and GET`}`);
const sorted = (values: number[]) => [...values].sort((a, b) => a - b).map((v) => v.toFixed(2)).join(" ");
const spread = results.flatMap(({ profile, ceiling: c, photon: p }) =>
  (["photon", "ceiling"] as const).map((name) => {
    const runs = name === "photon" ? p : c;
    return [profile.name, name, sorted(runs.up), sorted(runs.down)];
  }),
);
console.log(`\n### Spread (seconds per run, sorted)\n`);
console.log(markdownTable(["profile", "server", "PUT", "GET"], spread));
rmSync(dir, { recursive: true, force: true });
