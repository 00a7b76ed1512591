/**
 * Chain against fan-out replication on a network: two s3-gateways in node01's
 * namespace of a running lab, one per `--replication-mode`, over the same
 * three storage nodes (node02..node04's agents; R = 3, W = 2), each PUT and
 * GET of a 256 MiB object sent from the host with @aws-sdk/client-s3
 * (defaults), the two gateways taking turns; iperf3 node01 → node02 as the
 * link's baseline, in the same run.
 *
 *   photon lab up --dir LAB --nodes 4 --subnet 198.18.102.0/24 --link-rate 200mbit &
 *   node_modules/.bin/bun bench/s3-replication-lab.ts --dir LAB [--reps 3]
 *   photon lab down --dir LAB
 */
import { CreateBucketCommand, GetObjectCommand, PutObjectCommand, S3Client } from "@aws-sdk/client-s3";
import { randomBytes } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { join, resolve } from "node:path";
import { parseArgs } from "node:util";
import { markdownTable } from "../src/lab/bench/markdown.ts";
import { runIperf } from "../src/lab/bench/iperf.ts";
import { stop } from "../src/lab/bench/process.ts";
import { onNode, readLabState } from "../src/lab/state.ts";

const flags = parseArgs({ options: { dir: { type: "string", default: "photon-lab" }, reps: { type: "string", default: "3" } } }).values;
const reps = Number(flags.reps);
const lab = readLabState(resolve(flags.dir));
if (!lab || lab.network !== "netns" || lab.nodes.length < 4) throw new Error(`no netns lab of at least 4 nodes in ${flags.dir} (photon lab up --nodes 4 --link-rate …)`);
const [gatewayNode, ...rest] = lab.nodes;
const storage = rest.slice(0, 3);
const MiB = 1024 * 1024;
const credentials = { accessKeyId: "PHBENCHKEY00000000LB", secretAccessKey: "bench-" + crypto.randomUUID() };
const token = readFileSync(lab.tokenFile, "utf8").trim();
const dir = mkdtempSync(join(gatewayNode!.dataDir, "..", "bench-replication-"));

async function startGateway(mode: string, port: number) {
  const args = [resolve(import.meta.dir, "../dist/photon"), "s3-gateway", "--data-dir", join(dir, mode), "--listen", `${gatewayNode!.address}:${port}`, "--admin", `${gatewayNode!.address}:0`];
  const proc = Bun.spawn(onNode(gatewayNode!, [...args, "--storage-nodes", storage.map((n) => n.agentUrl).join(","), "--replication-mode", mode, "--log-level", "warn"]), {
    env: { ...process.env, PHOTON_TOKEN: token, PHOTON_ACCESS_KEY: credentials.accessKeyId, PHOTON_SECRET_KEY: credentials.secretAccessKey },
    stdout: "inherit",
    stderr: "inherit",
  });
  const endpoint = `http://${gatewayNode!.address}:${port}`;
  for (let i = 0; i < 400 && !(await fetch(endpoint).then(() => true, () => false)); i++) await Bun.sleep(25);
  const s3 = new S3Client({ endpoint, region: "us-east-1", forcePathStyle: true, credentials });
  await s3.send(new CreateBucketCommand({ Bucket: `bench-${mode}` }));
  return { mode, proc, s3, up: [] as number[], down: [] as number[] };
}

const link = await runIperf(storage[0]!, gatewayNode!, 10);
console.error(`iperf3 ${gatewayNode!.name} → ${storage[0]!.name}: ${link.mibps.toFixed(1)} MiB/s`);
const body = randomBytes(256 * MiB);
const gateways = [await startGateway("fanout", 19600), await startGateway("chain", 19601)];
try {
  for (let rep = 0; rep < reps; rep++) {
    for (const gw of rep % 2 === 0 ? gateways : [...gateways].reverse()) {
      let started = performance.now();
      await gw.s3.send(new PutObjectCommand({ Bucket: `bench-${gw.mode}`, Key: `big${rep}`, Body: body }));
      gw.up.push((performance.now() - started) / 1000);
      started = performance.now();
      const out = await gw.s3.send(new GetObjectCommand({ Bucket: `bench-${gw.mode}`, Key: `big${rep}` }));
      for await (const _ of out.Body as AsyncIterable<Uint8Array>) {
        // drain
      }
      gw.down.push((performance.now() - started) / 1000);
      console.error(`${gw.mode}: PUT ${gw.up.at(-1)!.toFixed(1)} s, GET ${gw.down.at(-1)!.toFixed(1)} s`);
    }
  }
} finally {
  for (const gw of gateways) {
    gw.s3.destroy();
    await stop(gw.proc);
  }
  rmSync(dir, { recursive: true, force: true });
}

const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;
const rows = gateways.flatMap((gw) =>
  (["up", "down"] as const).map((way) => {
    const mibps = 256 / median(gw[way]);
    return [`${gw.mode} 256 MiB ${way === "up" ? "PUT" : "GET"}`, `${mibps.toFixed(1)} MiB/s`, `${((100 * mibps) / link.mibps).toFixed(0)} %`, gw[way].map((s) => s.toFixed(1)).join(" ")];
  }),
);
console.log(`\n### Replicated S3 over a shaped network (lab ${lab.linkRate ?? "unshaped"} links, R = 3, W = 2, median of ${reps})\n`);
console.log(`iperf3 ${gatewayNode!.name} → ${storage[0]!.name}: ${link.mibps.toFixed(1)} MiB/s (the link)\n`);
console.log(markdownTable(["profile", "photon", "of the link", "seconds per run"], rows));
