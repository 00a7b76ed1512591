/**
 * S3 benchmark: Photon's s3-gateway against a ceiling — a minimal Bun HTTP
 * server on the same host that streams each PUT body to a file with fsync
 * while computing the hashes the request obliges (MD5 for the ETag, the
 * CRC32 the SDK sends), and serves GETs with sendfile. The seed's three
 * profiles, with @aws-sdk/client-s3 at default settings, in one run.
 *
 *   node_modules/.bin/bun bench/s3.ts [--reps 1]
 */
import { CreateBucketCommand, GetObjectCommand, PutObjectCommand, S3Client } from "@aws-sdk/client-s3";
import { createHash, randomBytes } from "node:crypto";
import { closeSync, fsyncSync, mkdirSync, mkdtempSync, openSync, rmSync, writeSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { markdownTable, peakRssMiB, stop } from "./lib.ts";

const MiB = 1024 * 1024;
const dir = mkdtempSync(join(tmpdir(), "photon-bench-s3-"));
const credentials = { accessKeyId: "PHBENCHKEY000000000A", secretAccessKey: "bench-" + crypto.randomUUID() };

/** The ceiling: stream to a file with fsync while hashing; sendfile back. */
function startCeiling(): { endpoint: string; stop(): void } {
  const store = join(dir, "ceiling");
  mkdirSync(store);
  const server = Bun.serve({
    port: 0,
    hostname: "127.0.0.1",
    maxRequestBodySize: 2 ** 40,
    async fetch(request) {
      const path = join(store, encodeURIComponent(new URL(request.url).pathname));
      if (request.method === "PUT") {
        const md5 = createHash("md5");
        let crc = 0;
        const fd = openSync(path, "w");
        for await (const piece of request.body ?? []) {
          md5.update(piece);
          crc = Bun.hash.crc32(piece, crc);
          for (let done = 0; done < piece.length; ) done += writeSync(fd, piece, done, piece.length - done);
        }
        fsyncSync(fd);
        closeSync(fd);
        return new Response(null, { headers: { etag: `"${md5.digest("hex")}"`, "x-crc": String(crc >>> 0) } });
      }
      if (request.method === "GET") return new Response(Bun.file(path));
      return new Response(null, { status: 200 });
    },
  });
  return { endpoint: `http://127.0.0.1:${server.port}`, stop: () => server.stop(true) };
}

async function startPhoton() {
  const proc = Bun.spawn(
    [resolve(import.meta.dir, "../dist/photon"), "s3-gateway", "--data-dir", join(dir, "photon"), "--listen", "127.0.0.1:19000", "--admin", "127.0.0.1:0", "--log-level", "warn"],
    { env: { ...process.env, PHOTON_TOKEN: "bench", PHOTON_ACCESS_KEY: credentials.accessKeyId, PHOTON_SECRET_KEY: credentials.secretAccessKey }, stdout: "inherit", stderr: "inherit" },
  );
  for (let i = 0; i < 200; i++) {
    if (await fetch("http://127.0.0.1:19000/").then(() => true, () => false)) break;
    await Bun.sleep(25);
  }
  return { endpoint: "http://127.0.0.1:19000", proc };
}

interface Profile {
  name: string;
  count: number;
  size: number;
  concurrency: number;
}
const profiles: Profile[] = [
  { name: "Large object (256 MiB)", count: 1, size: 256 * MiB, concurrency: 1 },
  { name: "Small objects (32 × 4 MiB)", count: 32, size: 4 * MiB, concurrency: 1 },
  { name: "Parallel small objects (32 × 4 MiB, 8 jobs)", count: 32, size: 4 * MiB, concurrency: 8 },
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

async function measure(endpoint: string, bucket: string, data: Buffer[]) {
  const s3 = new S3Client({ endpoint, region: "us-east-1", forcePathStyle: true, credentials });
  await s3.send(new CreateBucketCommand({ Bucket: bucket })).catch(() => {});
  const results: { up: number; down: number }[] = [];
  for (const profile of profiles) {
    const body = profile.size === 256 * MiB ? data[0]! : data[1]!;
    const key = (i: number) => `${profile.count}-${profile.concurrency}/${i}`;
    const up = await timed(profile.count, profile.concurrency, async (i) => {
      await s3.send(new PutObjectCommand({ Bucket: bucket, Key: key(i), Body: body }));
    });
    const down = await timed(profile.count, profile.concurrency, async (i) => {
      const out = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key(i) }));
      for await (const _ of out.Body as AsyncIterable<Uint8Array>) {
        // drain
      }
    });
    results.push({ up, down });
    console.error(`${endpoint}: ${profile.name}: up ${up.toFixed(2)} s, down ${down.toFixed(2)} s`);
  }
  s3.destroy();
  return results;
}

const data = [randomBytes(256 * MiB), randomBytes(4 * MiB)];
const ceiling = startCeiling();
const ceilingResults = await measure(ceiling.endpoint, "ceiling", data);
ceiling.stop();
const photon = await startPhoton();
const photonResults = await measure(photon.endpoint, "photon", data);
const rss = peakRssMiB(photon.proc.pid);
await stop(photon.proc);

const rows = profiles.flatMap((p, i) => {
  const mib = (p.count * p.size) / MiB;
  const row = (dir: "up" | "down") => {
    const ph = photonResults[i]![dir];
    const ce = ceilingResults[i]![dir];
    return [
      `${p.name} ${dir === "up" ? "PUT" : "GET"}`,
      `${(mib / ph).toFixed(0)} MiB/s`,
      `${(p.count / ph).toFixed(1)}`,
      `${(mib / ce).toFixed(0)} MiB/s`,
      `${(ce / ph).toFixed(2)}×`,
    ];
  };
  return [row("up"), row("down")];
});
console.log("\n### S3 (@aws-sdk/client-s3 defaults, same host)\n");
console.log(markdownTable(["profile", "photon", "photon objects/s", "ceiling", "photon / ceiling"], rows));
console.log(`\nPeak RSS of the gateway: ${rss.toFixed(0)} MiB`);
rmSync(dir, { recursive: true, force: true });
