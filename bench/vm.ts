/**
 * PlasmaVMC benchmark (issue 10): the image path and the VM runtime path on
 * this host, each against its peer in the same run —
 *  - CreateImage (file → controller → LightningStor artifact) against a plain
 *    S3 multipart PUT of the same file with @aws-sdk/lib-storage (same part
 *    size and parts in flight), for the test guest and a ≥ 1 GiB synthetic image;
 *  - first and second image-backed CreateVolume;
 *  - StartVm → QEMU attach and → the guest's benchmark, with the image's base
 *    not yet on the node and cached, and the time to move each disk onto it;
 *  - the guest's own benchmark through the node-local export against the same
 *    guest with its disks as local raw files (QEMU, TCG, same memory and CPUs),
 *    which isolates Photon's path from TCG's cost.
 *
 *   scripts/build-guest && node_modules/.bin/bun bench/vm.ts [--reps 3] [--synthetic-mib 1024]
 */
import { Upload } from "@aws-sdk/lib-storage";
import { CreateBucketCommand, S3Client } from "@aws-sdk/client-s3";
import { copyFileSync, mkdtempSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { Readable } from "node:stream";
import { parseArgs } from "node:util";
import type { Subprocess } from "bun";
import { VolumeClient } from "../src/coronafs/client.ts";
import { markdownTable } from "../src/lab/bench/markdown.ts";
import { peakRssMiB, stop } from "../src/lab/bench/process.ts";
import { measureImagePath, measureVmRun, parseGuestBench } from "../src/lab/bench/vm-measure.ts";

const flags = parseArgs({ options: { reps: { type: "string", default: "3" }, "synthetic-mib": { type: "string", default: "1024" } } }).values;
const reps = Number(flags.reps);
const syntheticMiB = Number(flags["synthetic-mib"]);
const MiB = 1024 * 1024;
const photon = resolve(import.meta.dir, "../dist/photon");
const guest = resolve(import.meta.dir, "../.cache/guest");
const files = { kernel: join(guest, "vmlinuz"), initrd: join(guest, "initrd.img"), disk: join(guest, "disk.raw") };
const dir = mkdtempSync(join(tmpdir(), "photon-bench-vm-"));
const token = "bench-" + crypto.randomUUID();
const key = { accessKeyId: "PHBENCHKEY000000000A", secretAccessKey: "bench-" + crypto.randomUUID() };
const procs: Subprocess[] = [];
const controllerLog: string[] = [];

/** Starts a Photon server; the controller's JSON log lines are kept for its per-disk timings. */
function start(args: string[], keepLog = false): Subprocess {
  const proc = Bun.spawn([photon, ...args], {
    env: { ...process.env, PHOTON_TOKEN: token, PHOTON_ACCESS_KEY: key.accessKeyId, PHOTON_SECRET_KEY: key.secretAccessKey },
    stdout: "ignore",
    stderr: keepLog ? "pipe" : "ignore",
  });
  if (keepLog) void (async () => { for await (const chunk of proc.stderr as ReadableStream<Uint8Array>) controllerLog.push(...new TextDecoder().decode(chunk).split("\n")); })();
  procs.push(proc);
  return proc;
}

async function reachable(url: string): Promise<void> {
  for (let i = 0; i < 400; i++) {
    if (await fetch(url).then(() => true, () => false)) return;
    await Bun.sleep(25);
  }
  throw new Error(`${url} did not come up`);
}

const median = (values: number[]) => (values.length === 0 ? NaN : [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!);
const fmt = (n: number, digits = 2) => n.toFixed(digits);

// One of each service on loopback: central export, gateway (local chunks), controller, one agent.
const central = start(["nbd-export", "--data-dir", join(dir, "central"), "--listen", "127.0.0.1:19210", "--socket", join(dir, "central.sock"), "--admin", "127.0.0.1:19211"]);
const gateway = start(["s3-gateway", "--data-dir", join(dir, "s3"), "--listen", "127.0.0.1:19212", "--admin", "127.0.0.1:19213"]);
writeFileSync(join(dir, "s3-key"), `AWS_ACCESS_KEY_ID=${key.accessKeyId}\nAWS_SECRET_ACCESS_KEY=${key.secretAccessKey}\n`);
await reachable("http://127.0.0.1:19211/healthz");
await reachable("http://127.0.0.1:19213/healthz");
const controllerUrl = "http://127.0.0.1:19200";
const controller = start(["controller", "--data-dir", join(dir, "controller"), "--listen", "127.0.0.1:19200", "--coronafs", "http://127.0.0.1:19211", "--s3-endpoint", "http://127.0.0.1:19212", "--s3-key-file", join(dir, "s3-key")], true);
await reachable(`${controllerUrl}/healthz`);
const agent = start(["agent", "--data-dir", join(dir, "worker"), "--listen", "127.0.0.1:19201", "--controller", controllerUrl, "--name", "worker", "--heartbeat-interval", "500"]);
await reachable("http://127.0.0.1:19201/healthz");
for (let i = 0; i < 100 && !(await fetch(`${controllerUrl}/v1/nodes/worker`, { headers: { authorization: `Bearer ${token}` } })).ok; i++) await Bun.sleep(100);
const target = { controllerUrl, token };

try {
  // --- Image path: CreateImage against a plain multipart PUT of the same bytes, then two clones.
  const s3 = new S3Client({ endpoint: "http://127.0.0.1:19212", region: "us-east-1", forcePathStyle: true, credentials: key });
  await s3.send(new CreateBucketCommand({ Bucket: "plain" }));
  const plainPut = async (file: string, name: string) => {
    const started = performance.now();
    await new Upload({ client: s3, params: { Bucket: "plain", Key: name, Body: Readable.fromWeb(Bun.file(file).stream() as never) }, partSize: 16 * MiB, queueSize: 4 }).done();
    return (performance.now() - started) / 1000;
  };
  const synthetic = join(dir, "synthetic.raw");
  Bun.spawnSync(["sh", "-c", `head -c ${syntheticMiB * MiB} /dev/urandom > ${synthetic}`]);
  const imageRows: (string | number)[][] = [];
  let guestImage: Awaited<ReturnType<typeof measureImagePath>> | undefined;
  for (const [label, file] of [["test guest (raw)", files.disk], [`synthetic ${syntheticMiB} MiB (raw, random)`, synthetic]] as const) {
    const photonSeconds: number[] = [];
    const plainSeconds: number[] = [];
    let measured: Awaited<ReturnType<typeof measureImagePath>> | undefined;
    for (let rep = 0; rep < reps; rep++) {
      plainSeconds.push(await plainPut(file, `${rep}-${label.length}`));
      measured = await measureImagePath(target, file, `img-${label.length}-${rep}`);
      photonSeconds.push(measured.createImageSeconds);
      if (file === files.disk && rep === reps - 1) guestImage = measured;
      else await measured.cleanup();
    }
    const size = statSync(file).size / MiB;
    const p = median(photonSeconds);
    const q = median(plainSeconds);
    imageRows.push([label, fmt(size, 0), fmt(p), fmt(size / p, 1), fmt(q), fmt(size / q, 1), `${fmt(q / p)}×`]);
  }
  rmSync(synthetic);
  const cloneRows = [
    ["First image-backed CreateVolume (builds the base)", fmt(guestImage!.firstCloneSeconds * 1000, 1), fmt(guestImage!.firstCloneServerMs, 1)],
    ["Second image-backed CreateVolume (qcow2 overlay)", fmt(guestImage!.secondCloneSeconds * 1000, 1), fmt(guestImage!.secondCloneServerMs, 1)],
  ];
  await guestImage!.cleanup();

  // --- Runtime path: a first VM pulls the base onto the node (cold), later ones find it cached (warm).
  const imageName = "guest";
  await measureImagePath(target, files.disk, imageName);
  const volumes = new VolumeClient(controllerUrl, token); // the clones go; the image stays for the VMs
  for (const clone of [`${imageName}-clone1`, `${imageName}-clone2`]) await volumes.delete(clone);
  const benchMib = 64;
  const run = { image: imageName, kernel: files.kernel, initrd: files.initrd, node: "worker", benchMib, timeoutMs: 300_000 };
  const cold = await measureVmRun(target, "cold", run);
  const warm: Awaited<ReturnType<typeof measureVmRun>>[] = [];

  // --- The same guest outside Photon: its data disk as a local raw file (the TCG baseline), and served by
  // nbdkit over a unix socket (the NBD path's own cost); root disk a local file, devices as the agent sets them.
  const blockdev = (node: string, file: object) => ["-blockdev", JSON.stringify({ driver: "raw", "node-name": node, file }), "-device", `virtio-blk-pci,drive=${node},write-cache=on`];
  const guestOutside = async (via: "file" | "nbdkit") => {
    const root = join(dir, "outside-root.raw");
    const data = join(dir, "outside-data.raw");
    const socket = join(dir, `nbdkit-${crypto.randomUUID().slice(0, 8)}.sock`);
    copyFileSync(files.disk, root);
    Bun.spawnSync(["truncate", "-s", `${Math.max(64, benchMib * 2)}M`, data]);
    const nbdkit = via === "nbdkit" ? Bun.spawn(["nbdkit", "--foreground", "--unix", socket, "file", data], { stdout: "ignore", stderr: "inherit" }) : undefined;
    for (let i = 0; nbdkit && i < 200 && !(await Bun.file(socket).exists()); i++) await Bun.sleep(10);
    const dataFile = via === "file" ? { driver: "file", filename: data } : { driver: "nbd", server: { type: "unix", path: socket }, export: "" };
    const append = `console=ttyS0 no_timer_check root=/dev/vda2 photon.data=/dev/vdb photon.bench=/dev/vdb photon.bench_mib=${benchMib} photon.poweroff=1`;
    const qemu = Bun.spawn(
      ["qemu-system-x86_64", "-accel", "tcg", "-machine", "q35", "-smp", "1", "-m", "256", "-nodefaults", "-no-user-config", "-display", "none", "-serial", "stdio",
        "-kernel", files.kernel, "-initrd", files.initrd, "-append", append,
        ...blockdev("vd0", { driver: "file", filename: root }), ...blockdev("vd1", dataFile)],
      { stdout: "pipe", stderr: "ignore" },
    );
    const text = await new Response(qemu.stdout).text();
    if (nbdkit) await stop(nbdkit);
    rmSync(root);
    rmSync(data);
    const bench = parseGuestBench(text);
    if (!bench) throw new Error(`the guest (${via}) printed no result:\n${text.slice(-1500)}`);
    return bench;
  };
  const localRuns: NonNullable<ReturnType<typeof parseGuestBench>>[] = [];
  const nbdkitRuns: NonNullable<ReturnType<typeof parseGuestBench>>[] = [];
  // Taking turns, so a change in the host's load touches all three alike.
  for (let rep = 0; rep < reps; rep++) {
    warm.push(await measureVmRun(target, `warm${rep}`, run));
    localRuns.push(await guestOutside("file"));
    nbdkitRuns.push(await guestOutside("nbdkit"));
  }

  const moves = controllerLog.filter((l) => l.includes('"disk moved onto node"')).map((l) => JSON.parse(l) as { volume: string; ms: number; bytes: number });
  const pulls = controllerLog.filter((l) => l.includes('"base materialized onto node"')).map((l) => JSON.parse(l) as { ms: number });
  const m = (runs: { seqWriteMiBps: number; seqReadMiBps: number; randReadIops: number }[], k: "seqWriteMiBps" | "seqReadMiBps" | "randReadIops") => median(runs.map((r) => r[k]));
  const guestRows = (["seqWriteMiBps", "seqReadMiBps", "randReadIops"] as const).map((k) => {
    const label = { seqWriteMiBps: "Guest sequential write (MiB/s)", seqReadMiBps: "Guest sequential read (MiB/s)", randReadIops: "Guest 4k random read (IOPS)" }[k];
    const digits = k === "randReadIops" ? 0 : 1;
    return [label, fmt(m(warm, k), digits), fmt(m(nbdkitRuns, k), digits), fmt(m(localRuns, k), digits), `${fmt(m(warm, k) / m(localRuns, k))}×`, `${fmt(m(warm, k) / m(nbdkitRuns, k))}×`];
  });

  console.log(`## CreateImage against a plain S3 PUT (median of ${reps})\n`);
  console.log(markdownTable(["Image", "MiB", "CreateImage s", "CreateImage MiB/s", "plain PUT s", "plain PUT MiB/s", "CreateImage / PUT"], imageRows));
  console.log(`\n## Image-backed CreateVolume\n`);
  console.log(markdownTable(["Step", "client ms", "controller ms"], cloneRows));
  console.log(`\n## StartVm on the worker (median of ${reps} with the base cached)\n`);
  console.log(markdownTable(["Metric", "Result"], [
    ["StartVm → QEMU attach, base cached", `${fmt(median(warm.map((w) => w.attachSeconds)), 3)} s`],
    ["StartVm → QEMU attach, base not yet on the node", `${fmt(cold.attachSeconds, 3)} s`],
    ["Base materialized onto the node (146 MiB image, holes skipped)", `${fmt((pulls[0]?.ms ?? NaN) / 1000, 3)} s`],
    ["Disk moves onto the node (qcow2 layers), median", `${fmt(median(moves.map((d) => d.ms)), 0)} ms (${fmt(median(moves.map((d) => d.bytes)) / 1024, 0)} KiB)`],
    ["StartVm → first guest output", `${fmt(median(warm.map((w) => w.firstOutputSeconds)), 2)} s`],
    ["StartVm → guest benchmark result", `${fmt(median(warm.map((w) => w.guestResultSeconds)), 2)} s`],
  ]));
  console.log(`\n## The guest's own benchmark (${benchMib} MiB on its data disk, fio O_DIRECT in the guest, TCG; median of ${reps})\n`);
  console.log(markdownTable(["Metric", "Photon node-local export", "nbdkit file, unix socket", "local raw file", "Photon / local file", "Photon / nbdkit"], guestRows));
  console.log(`\nPeak RSS: controller ${fmt(peakRssMiB(controller.pid), 0)} MiB, agent ${fmt(peakRssMiB(agent.pid), 0)} MiB, nbd-export ${fmt(peakRssMiB(central.pid), 0)} MiB, s3-gateway ${fmt(peakRssMiB(gateway.pid), 0)} MiB`);
  s3.destroy();
} finally {
  for (const proc of procs.reverse()) await stop(proc);
  rmSync(dir, { recursive: true, force: true });
}
