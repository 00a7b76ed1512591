/**
 * NBD benchmark: Photon's nbd-export vs nbdkit vs qemu-nbd vs local fio, one
 * run, the same 1 GiB file, unix sockets, fio's nbd engine. Prints MiB/s, IOPS,
 * the ratios and each exporter's peak RSS.
 *
 *   node_modules/.bin/bun bench/nbd.ts [--seconds 5] [--peers photon,nbdkit,qemu-nbd,local] [--no-qcow2]
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { parseArgs } from "node:util";
import { markdownTable, peakRssMiB, runFio, stop, waitForSocket, type FioJob, type FioResult } from "./lib.ts";

const { values } = parseArgs({
  options: {
    seconds: { type: "string", default: "5" },
    peers: { type: "string", default: "photon,nbdkit,qemu-nbd,local" },
    "no-qcow2": { type: "boolean", default: false },
    jobs: { type: "string" },
  },
});
const seconds = Number(values.seconds);
const peers = values.peers.split(",");
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

/** Runs every job against one exporter started by `start`; returns results and peak RSS. */
async function measure(label: string, start: () => Promise<{ uri: string; pid?: number; stop(): Promise<void> }>) {
  const results: FioResult[] = [];
  const server = await start();
  try {
    for (const job of jobs) {
      results.push(await runFio(job, { uri: server.uri }, seconds));
      console.error(`${label}: ${job.name}: ${fmt(results.at(-1)!)}`);
    }
    return { results, rss: server.pid ? peakRssMiB(server.pid) : NaN };
  } finally {
    await server.stop();
  }
}

const fmt = (r: FioResult) => `${r.mibps.toFixed(0)} MiB/s, ${(r.iops / 1000).toFixed(1)}k IOPS`;

async function startPhoton(volume: string) {
  const sock = join(dir, "photon.sock");
  const proc = Bun.spawn(
    [photon, "nbd-export", "--data-dir", join(dir, "photon"), "--listen", "none", "--socket", sock, "--admin", "127.0.0.1:0", "--log-level", "warn"],
    { stdout: "inherit", stderr: "inherit", env: { ...process.env, PHOTON_TOKEN: token } },
  );
  await waitForSocket(sock);
  return { uri: `nbd+unix:///${volume}?socket=${sock}`, pid: proc.pid, stop: () => stop(proc) };
}

async function startPeer(cmd: string[], sock: string) {
  const proc = Bun.spawn(cmd, { stdout: "inherit", stderr: "inherit" });
  await waitForSocket(sock);
  return { uri: `nbd+unix:///?socket=${sock}`, pid: proc.pid, stop: () => stop(proc) };
}

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
  // Fill with incompressible data once; every peer then serves this same file.
  await Bun.spawn(["dd", "if=/dev/urandom", `of=${raw}`, "bs=4M", "count=256", "conv=notrunc,fsync", "status=none"]).exited;
  await Bun.spawn(["cp", raw, base]).exited;
  const pristineOverlay = join(dir, "overlay.pristine");
  await Bun.spawn(["cp", overlay, pristineOverlay]).exited;
  return { raw, overlay, pristineOverlay };
}

const { raw, overlay, pristineOverlay } = await prepare();
const resetOverlay = async () => void (await Bun.spawn(["cp", pristineOverlay, overlay]).exited);
const table: Record<string, { results: FioResult[]; rss: number }> = {};
if (peers.includes("photon")) table.photon = await measure("photon", () => startPhoton("bench"));
if (peers.includes("nbdkit")) table.nbdkit = await measure("nbdkit", () => startPeer(["nbdkit", "-f", "-U", join(dir, "nbdkit.sock"), "file", raw], join(dir, "nbdkit.sock")));
if (peers.includes("qemu-nbd")) {
  table["qemu-nbd"] = await measure("qemu-nbd", () =>
    startPeer(["qemu-nbd", "-t", "-e", "0", "-f", "raw", "-k", join(dir, "qemu.sock"), raw], join(dir, "qemu.sock")),
  );
}
if (peers.includes("local")) {
  const results: FioResult[] = [];
  for (const job of jobs) results.push(await runFio(job, { file: raw }, seconds));
  table.local = { results, rss: NaN };
}

const names = Object.keys(table);
const rows = jobs.map((job, i) => {
  const cell = (name: string) => {
    const r = table[name]!.results[i]!;
    return job.bs === "4k" ? `${(r.iops / 1000).toFixed(1)}k IOPS` : `${r.mibps.toFixed(0)} MiB/s`;
  };
  const value = (name: string) => (job.bs === "4k" ? table[name]!.results[i]!.iops : table[name]!.results[i]!.mibps);
  const ratio = (peer: string) => (table.photon && table[peer] ? `${(value("photon") / value(peer)).toFixed(2)}×` : "-");
  return [job.name, ...names.map(cell), ratio("nbdkit"), ratio("local")];
});
console.log("\n### Raw export (unix socket, fio nbd engine)\n");
console.log(markdownTable(["job", ...names, "photon / nbdkit", "photon / local"], rows));
console.log("\nPeak RSS: " + names.filter((n) => n !== "local").map((n) => `${n} ${table[n]!.rss.toFixed(0)} MiB`).join(", "));

if (!values["no-qcow2"]) {
  const q: Record<string, { results: FioResult[]; rss: number }> = {};
  await resetOverlay();
  q.photon = await measure("photon qcow2", () => startPhoton("overlay"));
  await resetOverlay();
  q["qemu-nbd"] = await measure("qemu-nbd qcow2", () =>
    startPeer(["qemu-nbd", "-t", "-e", "0", "-f", "qcow2", "-k", join(dir, "qemu-q.sock"), overlay], join(dir, "qemu-q.sock")),
  );
  const qrows = jobs.map((job, i) => {
    const v = (r: FioResult) => (job.bs === "4k" ? r.iops : r.mibps);
    const show = (r: FioResult) => (job.bs === "4k" ? `${(r.iops / 1000).toFixed(1)}k IOPS` : `${r.mibps.toFixed(0)} MiB/s`);
    const p = q.photon!.results[i]!;
    const rawPhoton = table.photon?.results[i];
    return [job.name, show(p), show(q["qemu-nbd"]!.results[i]!), `${(v(p) / v(q["qemu-nbd"]!.results[i]!)).toFixed(2)}×`, rawPhoton ? `${(v(p) / v(rawPhoton)).toFixed(2)}×` : "-"];
  });
  console.log("\n### qcow2 overlay on the raw base\n");
  console.log(markdownTable(["job", "photon", "qemu-nbd", "photon / qemu-nbd", "overlay / raw (photon)"], qrows));
  console.log(`\nPeak RSS: photon ${q.photon!.rss.toFixed(0)} MiB, qemu-nbd ${q["qemu-nbd"]!.rss.toFixed(0)} MiB`);
}
rmSync(dir, { recursive: true, force: true });
