/**
 * Repair under load: does re-replication starve clients? A controller, four
 * agents with the storage role and a gateway following them (R = 3, W = 2),
 * all the compiled binary on this host. It loads --objects objects of --size
 * MiB, measures a GET loop (--jobs at a time, random objects) for --seconds
 * with nothing else running, then kills a node for good (SIGKILL) and measures
 * the same loop from the moment the gateway counts the node lost (past its
 * grace) until every chunk has three copies again on the others, at the
 * gateway's --repair-rate (its default unless given), and once more after.
 * Prints the throughputs, the ratio of the one during repair to the mean of
 * the others, the repair's duration and bytes, and the gateway's peak RSS
 * after each phase (and how much the repair added to it: repairs stream each
 * chunk, so it should not grow with the bytes repaired).
 *
 *   node_modules/.bin/bun bench/s3-repair.ts [--objects 256] [--size 4] [--jobs 4] [--seconds 15] [--repair-rate MiB/s]
 */
import { CreateBucketCommand, GetObjectCommand, PutObjectCommand } from "@aws-sdk/client-s3";
import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { markdownTable } from "../src/lab/bench/markdown.ts";
import { peakRssMiB, quiesce } from "../src/lab/bench/process.ts";
import { chunkIdsOn, everyReferencedChunkHas, referencedChunks, startMemberCluster, type MemberCluster } from "../test/helpers/member-cluster.ts";

const flags = parseArgs({
  options: {
    objects: { type: "string", default: "256" },
    size: { type: "string", default: "4" },
    jobs: { type: "string", default: "4" },
    seconds: { type: "string", default: "15" },
    "repair-rate": { type: "string" },
  },
}).values;
const MiB = 1024 * 1024;
const objects = Number(flags.objects);
const size = Number(flags.size) * MiB;
const jobs = Number(flags.jobs);
const GRACE_MS = 1000;

/** Completed GETs: when each ended (ms, performance.now) and its bytes. */
type Gets = { at: number; bytes: number }[];

/** GETs of random objects, `jobs` at a time, until `until` resolves; each body read whole and its length checked. */
async function getLoop(cluster: MemberCluster, until: Promise<unknown>): Promise<Gets> {
  const done: Gets = [];
  let running = true;
  void until.then(() => (running = false));
  await Promise.all(
    Array.from({ length: jobs }, async () => {
      while (running) {
        const out = await cluster.gateway.s3.send(new GetObjectCommand({ Bucket: "load", Key: `o${Math.floor(Math.random() * objects)}` }));
        const bytes = (await out.Body!.transformToByteArray()).length;
        if (bytes !== size) throw new Error(`a GET returned ${bytes} bytes, not ${size}`);
        done.push({ at: performance.now(), bytes });
      }
    }),
  );
  return done;
}

/** MiB/s of the GETs that ended between `from` and `to`. */
const throughput = (gets: Gets, from: number, to: number) => gets.filter((g) => g.at >= from && g.at <= to).reduce((sum, g) => sum + g.bytes, 0) / MiB / ((to - from) / 1000);

/** Polls `check` every 100 ms; resolves with the time it first held. */
async function when(check: () => boolean | Promise<boolean>, timeoutMs = 600_000): Promise<number> {
  const deadline = performance.now() + timeoutMs;
  while (performance.now() < deadline) {
    if (await check()) return performance.now();
    await Bun.sleep(100);
  }
  throw new Error("timed out");
}

const dir = mkdtempSync(join(tmpdir(), "photon-bench-repair-"));
const rate = flags["repair-rate"] ? ["--repair-rate", flags["repair-rate"]] : [];
const cluster = await startMemberCluster(dir, { gatewayArgs: ["--node-grace", String(GRACE_MS), ...rate] });
try {
  const s3 = cluster.gateway.s3;
  await s3.send(new CreateBucketCommand({ Bucket: "load" }));
  const body = randomBytes(size);
  for (let i = 0; i < objects; i++) await s3.send(new PutObjectCommand({ Bucket: "load", Key: `o${i}`, Body: body }));
  // The third copies may land after the acknowledgements: wait for them.
  await when(() => everyReferencedChunkHas(cluster, cluster.nodes));
  const pids = [cluster.gateway.proc.proc.pid, cluster.controller.proc.proc.pid, ...cluster.nodes.map((n) => n.proc.proc.pid)];
  const rssLoaded = peakRssMiB(cluster.gateway.proc.proc.pid);
  await quiesce(pids, 10_000);

  const baselineStart = performance.now();
  const baseline = await getLoop(cluster, Bun.sleep(Number(flags.seconds) * 1000));
  const baselineRate = throughput(baseline, baselineStart, performance.now());
  const rssBaseline = peakRssMiB(cluster.gateway.proc.proc.pid);
  await quiesce(pids, 10_000);

  const lost = cluster.nodes[0]!;
  const live = cluster.nodes.slice(1);
  const referenced = referencedChunks(cluster.gatewayDir);
  const toRepair = chunkIdsOn(lost).filter((id) => referenced.has(id)).length;
  lost.proc.proc.kill("SIGKILL");
  const killedAt = performance.now();
  const lostAt = when(async () => (await cluster.repairStatus()).nodes.find((n) => n.name === lost.name)?.state === "lost");
  const repairedAt = lostAt.then(() => when(async () => (await cluster.repairStatus()).underReplicated === 0 && everyReferencedChunkHas(cluster, live)));
  const loaded = await getLoop(cluster, repairedAt);
  const [from, to] = [await lostAt, await repairedAt];
  const duringRate = throughput(loaded, from, to);
  const seconds = (to - from) / 1000;
  // The same loop once more after the repair: on a shared host, a baseline that moved shows here.
  await quiesce(pids.filter((pid) => pid !== lost.proc.proc.pid), 10_000);
  const afterStart = performance.now();
  const after = await getLoop(cluster, Bun.sleep(Number(flags.seconds) * 1000));
  const afterRate = throughput(after, afterStart, performance.now());
  const withoutRepair = (baselineRate + afterRate) / 2;
  const repairedMiB = (toRepair * size) / MiB;
  const rssRepaired = peakRssMiB(cluster.gateway.proc.proc.pid);

  console.log(`\n${objects} objects × ${size / MiB} MiB, R = 3 over 4 agents, W = 2; GET loop with ${jobs} jobs; repair rate ${flags["repair-rate"] ?? "default (64)"} MiB/s\n`);
  console.log(
    markdownTable(
      ["", "value"],
      [
        ["GET MiB/s, no repair (before)", baselineRate.toFixed(1)],
        ["GET MiB/s, during repair", duringRate.toFixed(1)],
        ["GET MiB/s, no repair (after, three nodes)", afterRate.toFixed(1)],
        ["ratio (during / mean of before and after)", (duringRate / withoutRepair).toFixed(2)],
        ["repair: chunks re-created", toRepair],
        ["repair: MiB re-created", repairedMiB.toFixed(0)],
        ["repair: seconds (lost → every chunk at 3 copies)", seconds.toFixed(1)],
        ["repair: MiB/s", (repairedMiB / seconds).toFixed(1)],
        ["node killed → lost, seconds", ((from - killedAt) / 1000).toFixed(1)],
        ["gateway peak RSS after loading, MiB", rssLoaded.toFixed(0)],
        ["gateway peak RSS after the GETs without repair, MiB", rssBaseline.toFixed(0)],
        ["gateway peak RSS after the repair, MiB", rssRepaired.toFixed(0)],
        ["gateway peak RSS after the repair / after the GETs", (rssRepaired / rssBaseline).toFixed(2)],
      ],
    ),
  );
} finally {
  await cluster.stop();
  rmSync(dir, { recursive: true, force: true });
}
