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
 *   node_modules/.bin/bun bench/s3.ts --gateways 2 [--reps 11] [--storage-nodes 3] [--only-small]
 *
 * `--photon` runs another build of the binary (e.g. an older commit's, to
 * compare with this one against the same ceiling). `--metadata postgres`
 * keeps the gateway's metadata in a throwaway PostgreSQL cluster on this host
 * (test/helpers/postgres.ts) instead of its SQLite file; `--only-small` runs
 * only the small-object profile (1,000 × 4 KiB, where metadata dominates) and
 * skips the 1 GiB memory run. `--gateways 2` compares the metadata engines
 * instead (bench/s3-metadata.ts): one gateway on SQLite, one on PostgreSQL,
 * two on one PostgreSQL, over the same storage nodes (default 3).
 */
import { CreateBucketCommand, GetObjectCommand, PutObjectCommand, S3Client } from "@aws-sdk/client-s3";
import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { parseArgs } from "node:util";
import { markdownTable } from "../src/lab/bench/markdown.ts";
import { peakRssMiB, quiesce, stop } from "../src/lab/bench/process.ts";
import { startPostgres } from "../test/helpers/postgres.ts";
import { compareMetadataEngines } from "./s3-metadata.ts";
import { cpuOf, getAll, largeObject, median, MiB, parallelSmallObjects, PhotonFleet, putAll, rate, reachable, runHost, smallObjects, sorted, tinyObjects, type Profile } from "./s3-common.ts";

const flags = parseArgs({
  options: {
    reps: { type: "string", default: "11" },
    "storage-nodes": { type: "string", default: "0" },
    "replication-mode": { type: "string" },
    photon: { type: "string", default: resolve(import.meta.dir, "../dist/photon") },
    metadata: { type: "string", default: "sqlite" },
    "only-small": { type: "boolean", default: false },
    gateways: { type: "string", default: "1" },
  },
}).values;
const photonBinary = resolve(flags.photon);
if (flags.metadata !== "sqlite" && flags.metadata !== "postgres") throw new Error(`--metadata: sqlite or postgres, not "${flags.metadata}"`);
if (flags.gateways !== "1" && flags.gateways !== "2") throw new Error(`--gateways: 1 or 2, not "${flags.gateways}"`);
const reps = Number(flags.reps);
/** With N > 0, the gateway replicates over N agents on this host (default copies and quorum) instead of its data dir. */
const storageNodes = Number(flags["storage-nodes"]);
const host = runHost();
const dir = mkdtempSync(join(tmpdir(), "photon-bench-s3-"));
const credentials = { accessKeyId: "PHBENCHKEY000000000A", secretAccessKey: "bench-" + crypto.randomUUID() };

if (flags.gateways === "2") {
  await compareMetadataEngines({ binary: photonBinary, host, dir, reps, storageNodes: storageNodes || 3, replicationMode: flags["replication-mode"], onlySmall: flags["only-small"], credentials });
  rmSync(dir, { recursive: true, force: true });
  process.exit(0);
}

/** A PostgreSQL cluster for the gateway's metadata with `--metadata postgres`: each gateway gets a database of its own. */
const postgres = flags.metadata === "postgres" ? startPostgres() : undefined;
const metadataArgs = async () => ["--metadata", postgres ? await postgres.createDatabase() : "sqlite"];

/** The ceiling (bench/s3-ceiling.ts), a process of its own like the gateway. */
async function startCeiling() {
  const proc = Bun.spawn([process.execPath, resolve(import.meta.dir, "s3-ceiling.ts"), join(dir, "ceiling"), "19001", host], { stdout: "inherit", stderr: "inherit" });
  await reachable(`http://${host}:19001/`);
  return { endpoint: `http://${host}:19001`, proc };
}

const fleet = new PhotonFleet(photonBinary, host, dir, { ...process.env, PHOTON_TOKEN: "bench", PHOTON_ACCESS_KEY: credentials.accessKeyId, PHOTON_SECRET_KEY: credentials.secretAccessKey });

async function startPhoton(dataDir: string, port: number, nodes: string[]) {
  const mode = flags["replication-mode"] ? ["--replication-mode", flags["replication-mode"]] : [];
  const replication = nodes.length > 0 ? ["--storage-nodes", nodes.join(","), ...mode] : [];
  return fleet.gateway(dataDir, port, [...replication, ...(await metadataArgs())]);
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

const profiles: Profile[] = flags["only-small"] ? [tinyObjects] : [largeObject, smallObjects, parallelSmallObjects, tinyObjects];

/**
 * One profile on one server (whose processes are `pids`): seconds up and
 * down, each timed once both servers are idle, and the CPU seconds the
 * server spent — the measure a loaded host distorts least.
 */
async function runProfile(s3: S3Client, bucket: string, profile: Profile, data: Buffer[], rep: number, pids: number[]) {
  const body = profile.size === 256 * MiB ? data[0]! : data[1]!.subarray(0, profile.size);
  const prefix = `${profile.count}-${profile.concurrency}/${rep}`;
  await quiesce(serverPids);
  const up = await cpuOf(() => pids, () => putAll([s3], bucket, prefix, profile, body));
  await quiesce(serverPids);
  const down = await cpuOf(() => pids, () => getAll([s3], bucket, prefix, profile));
  return { up: up.result, down: down.result, upCpu: up.cpu, downCpu: down.cpu };
}

const data = [randomBytes(256 * MiB), randomBytes(4 * MiB)];
const ceiling = await startCeiling();
const nodes = storageNodes > 0 ? await fleet.storageNodes(storageNodes) : [];
const helperPids = fleet.procs.map((p) => p.pid);
const photon = await startPhoton("photon", 19000, nodes);
const serverPids = [ceiling.proc.pid, ...fleet.procs.map((p) => p.pid)];
const clients = {
  ceiling: new S3Client({ endpoint: ceiling.endpoint, region: "us-east-1", forcePathStyle: true, credentials }),
  photon: new S3Client({ endpoint: photon.endpoint, region: "us-east-1", forcePathStyle: true, credentials }),
};
await clients.photon.send(new CreateBucketCommand({ Bucket: "photon" }));
const results = profiles.map((profile) => {
  const runs = () => ({ up: [] as number[], down: [] as number[], upCpu: [] as number[], downCpu: [] as number[] });
  return { profile, ceiling: runs(), photon: runs() };
});
const pidsOf = { ceiling: [ceiling.proc.pid], photon: [photon.proc.pid, ...helperPids] };
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
await fleet.stopAll();
postgres?.stop();

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
const spread = results.flatMap(({ profile, ceiling: c, photon: p }) =>
  (["photon", "ceiling"] as const).map((name) => {
    const runs = name === "photon" ? p : c;
    return [profile.name, name, sorted(runs.up), sorted(runs.down)];
  }),
);
console.log(`\n### Spread (seconds per run, sorted)\n`);
console.log(markdownTable(["profile", "server", "PUT", "GET"], spread));
rmSync(dir, { recursive: true, force: true });
