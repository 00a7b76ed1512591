/**
 * `bench/s3.ts --gateways 2`: the gateway's metadata engines on the same
 * storage nodes in one run — one gateway on SQLite (the baseline), one on
 * PostgreSQL, and two on one PostgreSQL database serving one namespace, the
 * load split over both (request i through gateway i mod 2; each object read
 * back through the gateway that did not store it). PostgreSQL is a throwaway
 * cluster on this host (test/helpers/postgres.ts), over its unix socket.
 *
 * Each cell is the median of `reps` runs, the three setups taking turns in
 * rotating order; each phase starts once every server is idle (quiesce).
 */
import { CreateBucketCommand, S3Client } from "@aws-sdk/client-s3";
import { randomBytes } from "node:crypto";
import { copyFileSync, mkdirSync } from "node:fs";
import { join } from "node:path";
import { peakRssMiB, quiesce } from "../src/lab/bench/process.ts";
import { markdownTable } from "../src/lab/bench/markdown.ts";
import { secretsKeyFile } from "../src/lightningstor/metadata.ts";
import { startPostgres } from "../test/helpers/postgres.ts";
import { cpuOf, deleteAll, getAll, median, MiB, parallelSmallObjects, PhotonFleet, putAll, rate, smallObjects, sorted, tinyObjects, withChildren, type Profile } from "./s3-common.ts";

export interface MetadataBenchOptions {
  binary: string;
  host: string;
  dir: string;
  reps: number;
  /** Storage nodes every setup shares (at least 1: two gateways cannot share a data dir's chunks). */
  storageNodes: number;
  replicationMode?: string;
  onlySmall: boolean;
  credentials: { accessKeyId: string; secretAccessKey: string };
}

/** One setup under test: its gateways' clients and the server processes whose CPU it is charged. */
interface Setup {
  name: string;
  clients: S3Client[];
  gatewayPids: number[];
  /** Its gateways' and (PostgreSQL) the server's processes, listed anew for each phase (backends come and go). */
  serverPids(): number[];
}

/** Seconds and server CPU seconds of each run of one profile on one setup. */
interface Runs {
  up: number[];
  down: number[];
  upCpu: number[];
  downCpu: number[];
}

/** Runs the comparison and prints its tables (markdown) on stdout. */
export async function compareMetadataEngines(options: MetadataBenchOptions): Promise<void> {
  const env = { ...process.env, PHOTON_TOKEN: "bench", PHOTON_ACCESS_KEY: options.credentials.accessKeyId, PHOTON_SECRET_KEY: options.credentials.secretAccessKey, PHOTON_METADATA: undefined };
  const fleet = new PhotonFleet(options.binary, options.host, options.dir, env);
  const postgres = startPostgres();
  try {
    const nodes = await fleet.storageNodes(Math.max(1, options.storageNodes));
    const replication = ["--storage-nodes", nodes.join(","), ...(options.replicationMode ? ["--replication-mode", options.replicationMode] : [])];
    const postmaster = Number((await Bun.file(join(postgres.dir, "data", "postmaster.pid")).text()).split("\n")[0]);
    const sqlite = await fleet.gateway("sqlite", 19000, [...replication, "--metadata", "sqlite"]);
    const pg1 = await fleet.gateway("pg1", 19001, [...replication, "--metadata", await postgres.createDatabase()]);
    const shared = await postgres.createDatabase();
    const pg2a = await fleet.gateway("pg2a", 19002, [...replication, "--metadata", shared]);
    // The second gateway on the database opens the secrets sealed there with the first one's key (operations.md).
    mkdirSync(join(options.dir, "pg2b"), { recursive: true });
    copyFileSync(join(pg2a.dataDir, secretsKeyFile), join(options.dir, "pg2b", secretsKeyFile));
    const pg2b = await fleet.gateway("pg2b", 19003, [...replication, "--metadata", shared]);

    const client = (endpoint: string) => new S3Client({ endpoint, region: "us-east-1", forcePathStyle: true, credentials: options.credentials });
    const setup = (name: string, gateways: { endpoint: string; proc: { pid: number } }[], onPostgres: boolean): Setup => ({
      name,
      clients: gateways.map((g) => client(g.endpoint)),
      gatewayPids: gateways.map((g) => g.proc.pid),
      serverPids: () => [...gateways.map((g) => g.proc.pid), ...(onPostgres ? withChildren(postmaster) : [])],
    });
    const setups = [setup("SQLite, 1 gateway", [sqlite], false), setup("PostgreSQL, 1 gateway", [pg1], true), setup("PostgreSQL, 2 gateways", [pg2a, pg2b], true)];
    for (const s of setups) await s.clients[0]!.send(new CreateBucketCommand({ Bucket: "bench" }));
    const everyServer = () => [...fleet.procs.map((p) => p.pid), ...withChildren(postmaster)];

    const profiles = options.onlySmall ? [tinyObjects] : [smallObjects, parallelSmallObjects, tinyObjects];
    const body = randomBytes(4 * MiB);
    const results = profiles.map((profile) => ({ profile, runs: setups.map((): Runs => ({ up: [], down: [], upCpu: [], downCpu: [] })) }));
    for (const result of results) {
      for (let rep = 0; rep < options.reps; rep++) {
        // Rotating order: no setup always runs first (fresh) or last (after the others' writes).
        for (let k = 0; k < setups.length; k++) {
          const s = setups[(rep + k) % setups.length]!;
          const runs = result.runs[(rep + k) % setups.length]!;
          const prefix = `${result.profile.count}-${result.profile.concurrency}/${rep}`;
          await quiesce(everyServer());
          const up = await cpuOf(s.serverPids, () => putAll(s.clients, "bench", prefix, result.profile, body.subarray(0, result.profile.size)));
          await quiesce(everyServer());
          const down = await cpuOf(s.serverPids, () => getAll(s.clients, "bench", prefix, result.profile, 1));
          await deleteAll(s.clients[0]!, "bench", prefix, result.profile.count);
          runs.up.push(up.result);
          runs.down.push(down.result);
          runs.upCpu.push(up.cpu);
          runs.downCpu.push(down.cpu);
          console.error(`${s.name}: ${result.profile.name}: up ${up.result.toFixed(2)} s, down ${down.result.toFixed(2)} s`);
        }
      }
    }
    const rss = setups.map((s) => Math.max(...s.gatewayPids.map(peakRssMiB)));
    const postgresRss = Math.max(...withChildren(postmaster).map(peakRssMiB).filter((v) => !Number.isNaN(v)));
    for (const s of setups) for (const c of s.clients) c.destroy();
    printTables(setups.map((s) => s.name), results, options, rss, postgresRss);
  } finally {
    await fleet.stopAll();
    postgres.stop();
  }
}

function printTables(names: string[], results: { profile: Profile; runs: Runs[] }[], options: MetadataBenchOptions, rss: number[], postgresRss: number): void {
  const rows = results.flatMap(({ profile, runs }) => {
    const mib = (profile.count * profile.size) / MiB;
    return (["up", "down"] as const).map((dir) => {
      const seconds = runs.map((r) => median(r[dir]));
      const cpuMs = runs.map((r) => ((median(dir === "up" ? r.upCpu : r.downCpu) * 1000) / profile.count).toFixed(2));
      const cell = (i: number) => `${rate(mib / seconds[i]!)} MiB/s (${(profile.count / seconds[i]!).toFixed(0)}/s)`;
      const ratio = (i: number) => `${(seconds[0]! / seconds[i]!).toFixed(2)}×`;
      return [`${profile.name} ${dir === "up" ? "PUT" : "GET"}`, cell(0), cell(1), ratio(1), cell(2), ratio(2), cpuMs.join(" / ")];
    });
  });
  const layout = `chunks on ${Math.max(1, options.storageNodes)} storage nodes (agents) on the same host${options.replicationMode ? ` (${options.replicationMode})` : ""}`;
  console.log(`\n### Metadata engines (@aws-sdk/client-s3 defaults, same host, ${layout}, PostgreSQL over its unix socket, median of ${options.reps})\n`);
  console.log(markdownTable(["profile", "SQLite, 1 gateway", "PostgreSQL, 1 gateway", "vs SQLite", "PostgreSQL, 2 gateways", "vs SQLite", "server CPU ms/op (SQLite / PG / PG×2)"], rows));
  console.log(`\nPeak RSS per gateway: SQLite ${rss[0]!.toFixed(0)} MiB, PostgreSQL ${rss[1]!.toFixed(0)} MiB, two on PostgreSQL ${rss[2]!.toFixed(0)} MiB (the larger); PostgreSQL's largest process ${postgresRss.toFixed(0)} MiB`);
  const spread = results.flatMap(({ profile, runs }) => runs.map((r, i) => [profile.name, names[i]!, sorted(r.up), sorted(r.down)]));
  console.log(`\n### Spread (seconds per run, sorted)\n`);
  console.log(markdownTable(["profile", "setup", "PUT", "GET"], spread));
}
