import { CreateBucketCommand, GetObjectCommand, PutObjectCommand, S3Client } from "@aws-sdk/client-s3";
import { randomBytes } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
const bins = process.argv.slice(2);
const dir = mkdtempSync(join(tmpdir(), "chainbench-"));
const credentials = { accessKeyId: "PHBENCHKEY000000000A", secretAccessKey: "bench-secret-x" };
const env = { ...process.env, PHOTON_TOKEN: "bench", PHOTON_ACCESS_KEY: credentials.accessKeyId, PHOTON_SECRET_KEY: credentials.secretAccessKey };
const cpu = (pid: number) => { const f = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1]!.split(" "); return (Number(f[11]) + Number(f[12])) / 100; };
const MiB = 1 << 20;
const big = randomBytes(256 * MiB), small = randomBytes(4 * MiB);
const gws = [];
for (const [i, bin] of bins.entries()) {
  const port = 19500 + i;
  const proc = Bun.spawn([bin, "s3-gateway", "--data-dir", join(dir, `g${i}`), "--listen", `127.0.0.1:${port}`, "--admin", "127.0.0.1:0", "--log-level", "warn"], { env, stdout: "inherit", stderr: "inherit" });
  const endpoint = `http://127.0.0.1:${port}`;
  for (let k = 0; k < 200 && !(await fetch(endpoint).then(() => true, () => false)); k++) await Bun.sleep(25);
  const s3 = new S3Client({ endpoint, region: "us-east-1", forcePathStyle: true, credentials });
  await s3.send(new CreateBucketCommand({ Bucket: "b" }));
  await s3.send(new PutObjectCommand({ Bucket: "b", Key: "big", Body: big }));
  for (let k = 0; k < 32; k++) await s3.send(new PutObjectCommand({ Bucket: "b", Key: `s${k}`, Body: small }));
  gws.push({ bin, proc, s3, get: [] as number[], getcpu: [] as number[], sget: [] as number[], sput: [] as number[], sputcpu: [] as number[] });
}
const drain = async (s3: S3Client, key: string) => { const out = await s3.send(new GetObjectCommand({ Bucket: "b", Key: key })); for await (const _ of out.Body as AsyncIterable<Uint8Array>) {} };
for (let rep = 0; rep < Number(process.env.REPS ?? 7); rep++) {
  for (const g of rep % 2 ? [...gws].reverse() : gws) {
    Bun.gc(true);
    let c = cpu(g.proc.pid), t = performance.now();
    await drain(g.s3, "big");
    g.get.push((performance.now() - t) / 1000); g.getcpu.push(cpu(g.proc.pid) - c);
    t = performance.now();
    for (let k = 0; k < 32; k++) await drain(g.s3, `s${k}`);
    g.sget.push((performance.now() - t) / 1000);
    c = cpu(g.proc.pid); t = performance.now();
    for (let k = 0; k < 32; k++) await g.s3.send(new PutObjectCommand({ Bucket: "b", Key: `p${k}`, Body: small }));
    g.sput.push((performance.now() - t) / 1000); g.sputcpu.push(cpu(g.proc.pid) - c);
  }
}
const med = (v: number[]) => [...v].sort((a, b) => a - b)[Math.floor(v.length / 2)]!;
for (const g of gws) {
  console.log(`${g.bin}\n  256MiB GET ${(256 / med(g.get)).toFixed(0)} MiB/s cpu ${med(g.getcpu).toFixed(2)}s | 32x4MiB GET ${(128 / med(g.sget)).toFixed(0)} MiB/s | 32x4MiB PUT ${(128 / med(g.sput)).toFixed(0)} MiB/s cpu ${med(g.sputcpu).toFixed(2)}s`);
  g.s3.destroy(); g.proc.kill(); await g.proc.exited;
}
rmSync(dir, { recursive: true, force: true });
