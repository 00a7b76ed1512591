/**
 * NBD benchmark: Photon's nbd-export vs nbdkit vs qemu-nbd vs local fio, in one
 * run, on the same 1 GiB file, over unix sockets with fio's nbd engine. Each
 * cell is the median of --reps runs, the peers taking turns within a job so
 * that machine noise hits them alike; dirty pages are synced before each job.
 * Prints MiB/s or IOPS, the ratios and each exporter's peak RSS, then the same
 * jobs on a qcow2 overlay of the file (Photon vs qemu-nbd), then the time to
 * materialize the volume onto an agent (Photon vs nbdcopy into a file, both flushed),
 * then NBD over TLS on TCP loopback (tls.ts: Photon vs nbdkit with the same credentials).
 * `--baseline BIN` adds another Photon binary (say, main's) to the raw table, so
 * that a change can be shown not to move the plaintext rows in the same run.
 *
 *   node_modules/.bin/bun bench/nbd.ts [--seconds 3] [--reps 3] [--peers photon,nbdkit,qemu-nbd,local] [--no-qcow2] [--no-materialize] [--no-tls] [--jobs 0,1] [--baseline BIN]
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { parseArgs } from "node:util";
import { runFio, type FioJob, type FioResult } from "../src/lab/bench/fio.ts";
import { markdownTable } from "../src/lab/bench/markdown.ts";
import { peakRssMiB, stop, waitForSocket } from "../src/lab/bench/process.ts";
import { benchTls } from "./tls.ts";

const { values } = parseArgs({
  options: {
    seconds: { type: "string", default: "3" },
    reps: { type: "string", default: "3" },
    peers: { type: "string", default: "photon,nbdkit,qemu-nbd,local" },
    "no-qcow2": { type: "boolean", default: false },
    "no-materialize": { type: "boolean", default: false },
    "no-tls": { type: "boolean", default: false },
    baseline: { type: "string" },
    jobs: { type: "string" },
  },
});
const seconds = Number(values.seconds);
const reps = Number(values.reps);
const peerNames = values.peers.split(",");
const photon = resolve(import.meta.dir, "../dist/photon");

const allJobs: FioJob[] = [
  { name: "1 MiB seq read QD1", rw: "read", bs: "1M", iodepth: 1 },
  { name: "4k randread QD1", rw: "randread", bs: "4k", iodepth: 1 },
  { name: "4k randread QD32", rw: "randread", bs: "4k", iodepth: 32 },
  { name: "1 MiB seq write QD1", rw: "write", bs: "1M", iodepth: 1 },
  { name: "1 MiB read QD32", rw: "read", bs: "1M", iodepth: 32 },
  { name: "1 MiB write QD32", rw: "write", bs: "1M", iodepth: 32 },
];
const jobs = values.jobs ? allJobs.filter((_, i) => values.jobs!.split(",").includes(String(i))) : allJobs;

const dir = mkdtempSync(join(tmpdir(), "photon-bench-nbd-"));
const token = "bench-token-" + crypto.randomUUID();

/** A running exporter, or local fio on the file. */
export interface Target {
  name: string;
  fio: { uri: string } | { file: string };
  /** How fio is started for it (e.g. with the HOME where libnbd finds a CA). */
  wrap?: (argv: string[]) => string[];
  pid?: number;
  stop(): Promise<void>;
}

async function startPhoton(volume: string, binary = photon, name = "photon"): Promise<Target> {
  const sock = join(dir, `${name}-${volume}.sock`);
  const proc = Bun.spawn(
    [binary, "nbd-export", "--data-dir", join(dir, "photon"), "--listen", "none", "--socket", sock, "--admin", "127.0.0.1:0", "--log-level", "warn"],
    { stdout: "inherit", stderr: "inherit", env: { ...process.env, PHOTON_TOKEN: token } },
  );
  await waitForSocket(sock);
  return { name, fio: { uri: `nbd+unix:///${volume}?socket=${sock}` }, pid: proc.pid, stop: () => stop(proc) };
}

async function startPeer(name: string, cmd: string[], sock: string): Promise<Target> {
  const proc = Bun.spawn(cmd, { stdout: "inherit", stderr: "inherit" });
  await waitForSocket(sock);
  return { name, fio: { uri: `nbd+unix:///?socket=${sock}` }, pid: proc.pid, stop: () => stop(proc) };
}

const sync = () => Bun.spawn(["sync"]).exited;

/** Runs every job on every target, reps times, targets taking turns; returns medians per target. */
async function measure(targets: Target[]): Promise<Record<string, FioResult[]>> {
  const results: Record<string, FioResult[]> = Object.fromEntries(targets.map((t) => [t.name, []]));
  for (const job of jobs) {
    const samples: Record<string, FioResult[]> = Object.fromEntries(targets.map((t) => [t.name, []]));
    for (let rep = 0; rep < reps; rep++) {
      for (let i = 0; i < targets.length; i++) {
        const target = targets[(i + rep) % targets.length]!;
        await sync();
        samples[target.name]!.push(await runFio(job, target.fio, seconds, "1G", { wrap: target.wrap }));
      }
    }
    for (const t of targets) {
      const sorted = samples[t.name]!.sort((a, b) => a.mibps - b.mibps);
      results[t.name]!.push(sorted[Math.floor(sorted.length / 2)]!);
      console.error(`${t.name}: ${job.name}: ${sorted.map(fmt).join(" | ")}`);
    }
  }
  return results;
}

const fmt = (r: FioResult) => `${r.mibps.toFixed(0)} MiB/s ${(r.iops / 1000).toFixed(1)}k IOPS`;
const cell = (job: FioJob, r: FioResult) => (job.bs === "4k" ? `${(r.iops / 1000).toFixed(1)}k IOPS` : `${r.mibps.toFixed(0)} MiB/s`);
const value = (job: FioJob, r: FioResult) => (job.bs === "4k" ? r.iops : r.mibps);

/**
 * Creates the volumes through the admin API of a short-lived exporter: "bench" (raw, what
 * every peer serves), "base" (raw, same data) and "overlay" (qcow2 on "base", kept pristine
 * in a copy so that each qcow2 run starts from the same empty overlay).
 */
async function prepare(): Promise<{ raw: string; overlay: string; pristineOverlay: string }> {
  const admin = Bun.spawn([photon, "nbd-export", "--data-dir", join(dir, "photon"), "--listen", "none", "--socket", "none", "--admin", "127.0.0.1:17999", "--log-level", "warn"], {
    env: { ...process.env, PHOTON_TOKEN: token },
  });
  const api = "http://127.0.0.1:17999/v1/volumes";
  const headers = { authorization: `Bearer ${token}`, "content-type": "application/json" };
  for (let i = 0; i < 200; i++) {
    if (await fetch(api, { headers }).then((r) => r.ok, () => false)) break;
    await Bun.sleep(25);
  }
  const create = async (body: object) => {
    const res = await fetch(api, { method: "POST", headers, body: JSON.stringify(body) });
    if (!res.ok) throw new Error(`create volume: ${await res.text()}`);
  };
  await create({ name: "bench", size: "1G" });
  await create({ name: "base", size: "1G" });
  await create({ name: "overlay", size: "1G", backing: "base" });
  await stop(admin);
  const { Database } = await import("bun:sqlite");
  const db = new Database(join(dir, "photon", "nbd-export.db"), { readonly: true });
  const file = (name: string) => join(dir, "photon", "volumes", db.query<{ file: string }, [string]>("SELECT file FROM volumes WHERE name = ?").get(name)!.file);
  const [raw, base, overlay] = [file("bench"), file("base"), file("overlay")];
  db.close();
  // Incompressible data, written once; every peer then serves this same file.
  await Bun.spawn(["dd", "if=/dev/urandom", `of=${raw}`, "bs=4M", "count=256", "conv=notrunc,fsync", "status=none"]).exited;
  await Bun.spawn(["cp", raw, base]).exited;
  // Start every exporter from the same warm page cache.
  await Bun.spawn(["cat", raw, base], { stdout: "ignore" }).exited;
  const pristineOverlay = join(dir, "overlay.pristine");
  await Bun.spawn(["cp", overlay, pristineOverlay]).exited;
  return { raw, overlay, pristineOverlay };
}

const { raw, overlay, pristineOverlay } = await prepare();
const started = performance.now();

// Raw: every exporter serves the same file at once; jobs run one at a time.
const targets: Target[] = [];
if (peerNames.includes("photon")) targets.push(await startPhoton("bench"));
if (values.baseline) targets.push(await startPhoton("bench", resolve(values.baseline), "baseline"));
if (peerNames.includes("nbdkit")) targets.push(await startPeer("nbdkit", ["nbdkit", "-f", "-U", join(dir, "nbdkit.sock"), "file", raw], join(dir, "nbdkit.sock")));
if (peerNames.includes("qemu-nbd")) {
  targets.push(await startPeer("qemu-nbd", ["qemu-nbd", "-t", "-e", "0", "-f", "raw", "-k", join(dir, "qemu.sock"), raw], join(dir, "qemu.sock")));
}
if (peerNames.includes("local")) targets.push({ name: "local", fio: { file: raw }, stop: async () => {} });
const rawResults = await measure(targets);
const rss = Object.fromEntries(targets.filter((t) => t.pid).map((t) => [t.name, peakRssMiB(t.pid!)]));
for (const t of targets) await t.stop();

const names = targets.map((t) => t.name);
const ratio = (job: FioJob, i: number, peer: string) =>
  rawResults.photon && rawResults[peer] ? `${(value(job, rawResults.photon[i]!) / value(job, rawResults[peer]![i]!)).toFixed(2)}×` : "-";
console.log(`\n### Raw export (unix socket, fio nbd engine, median of ${reps} × ${seconds} s)\n`);
console.log(
  markdownTable(
    ["job", ...names, "photon / nbdkit", "photon / local", ...(values.baseline ? ["photon / baseline"] : [])],
    jobs.map((job, i) => [
      job.name,
      ...names.map((n) => cell(job, rawResults[n]![i]!)),
      ratio(job, i, "nbdkit"),
      ratio(job, i, "local"),
      ...(values.baseline ? [ratio(job, i, "baseline")] : []),
    ]),
  ),
);
console.log("\nPeak RSS: " + Object.entries(rss).map(([n, v]) => `${n} ${v.toFixed(0)} MiB`).join(", "));

if (!values["no-qcow2"] && rawResults.photon) {
  // qcow2: one writer per image, so the exporters take turns, each on a fresh overlay.
  const resetOverlay = () => Bun.spawn(["cp", pristineOverlay, overlay]).exited;
  await resetOverlay();
  const photonQ = await startPhoton("overlay");
  const photonResults = (await measure([photonQ])).photon!;
  const photonRss = peakRssMiB(photonQ.pid!);
  await photonQ.stop();
  await resetOverlay();
  const qemuQ = await startPeer("qemu-nbd", ["qemu-nbd", "-t", "-e", "0", "-f", "qcow2", "-k", join(dir, "qemu-q.sock"), overlay], join(dir, "qemu-q.sock"));
  const qemuResults = (await measure([qemuQ]))["qemu-nbd"]!;
  const qemuRss = peakRssMiB(qemuQ.pid!);
  await qemuQ.stop();
  console.log(`\n### qcow2 overlay on the raw base (median of ${reps} × ${seconds} s)\n`);
  console.log(
    markdownTable(
      ["job", "photon", "qemu-nbd", "photon / qemu-nbd", "overlay / raw (photon)"],
      jobs.map((job, i) => {
        const p = photonResults[i]!;
        const q = qemuResults[i]!;
        return [job.name, cell(job, p), cell(job, q), `${(value(job, p) / value(job, q)).toFixed(2)}×`, `${(value(job, p) / value(job, rawResults.photon![i]!)).toFixed(2)}×`];
      }),
    ),
  );
  console.log(`\nPeak RSS: photon ${photonRss.toFixed(0)} MiB, qemu-nbd ${qemuRss.toFixed(0)} MiB`);
}
if (!values["no-materialize"]) await materialize();
if (!values["no-tls"]) await benchTls({ dir, photon, token, raw, jobs, reps, measure, cell, value });
console.log(`\n(${((performance.now() - started) / 1000).toFixed(0)} s of measurement)`);
rmSync(dir, { recursive: true, force: true });

/**
 * Node-local materialization: an agent copies the 1 GiB "bench" volume from the
 * export into its own store (POST /v1/volumes with a source: block status,
 * pipelined reads, fsync), against `nbdcopy --flush` of the same export into a file.
 */
async function materialize(): Promise<void> {
  const exporter = await startPhoton("bench");
  const source = (exporter.fio as { uri: string }).uri;
  const agent = Bun.spawn(
    [photon, "agent", "--data-dir", join(dir, "agent"), "--listen", "127.0.0.1:17998", "--controller", "http://127.0.0.1:1", "--roles", "nbd", "--log-level", "error"],
    { stdout: "inherit", stderr: "inherit", env: { ...process.env, PHOTON_TOKEN: token } },
  );
  const api = "http://127.0.0.1:17998/v1/volumes";
  const headers = { authorization: `Bearer ${token}`, "content-type": "application/json" };
  for (let i = 0; i < 200 && !(await fetch(api, { headers }).then((r) => r.ok, () => false)); i++) await Bun.sleep(25);
  const times: Record<string, number[]> = { photon: [], nbdcopy: [] };
  for (let rep = 0; rep < reps; rep++) {
    await sync();
    let t = performance.now();
    const res = await fetch(api, { method: "POST", headers, body: JSON.stringify({ name: "copy", source }) });
    if (res.status !== 201) throw new Error(`materialize: ${await res.text()}`);
    times.photon!.push((performance.now() - t) / 1000);
    await fetch(`${api}/copy`, { method: "DELETE", headers });
    await sync();
    t = performance.now();
    const copy = join(dir, "nbdcopy.raw");
    if ((await Bun.spawn(["nbdcopy", "--flush", source, copy]).exited) !== 0) throw new Error("nbdcopy failed");
    times.nbdcopy!.push((performance.now() - t) / 1000);
    rmSync(copy);
  }
  const rss = peakRssMiB(agent.pid);
  await stop(agent);
  await exporter.stop();
  const med = (v: number[]) => [...v].sort((a, b) => a - b)[Math.floor(v.length / 2)]!;
  const [p, n] = [med(times.photon!), med(times.nbdcopy!)];
  console.log(`\n### Materialize the 1 GiB volume onto a worker (median of ${reps})\n`);
  console.log(
    markdownTable(
      ["copier", "seconds", "MiB/s", "speed vs nbdcopy"],
      [
        ["photon (agent, 1 connection)", p.toFixed(2), (1024 / p).toFixed(0), `${(n / p).toFixed(2)}×`],
        ["nbdcopy --flush (4 connections)", n.toFixed(2), (1024 / n).toFixed(0), "1.00×"],
      ],
    ),
  );
  console.log(`\nPeak RSS of the agent: ${rss.toFixed(0)} MiB`);
}
