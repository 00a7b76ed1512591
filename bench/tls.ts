/**
 * The TLS part of bench/nbd.ts: Photon's nbd-export and nbdkit serving the
 * same file over TCP loopback with TLS required and the same kind of
 * credentials. X.509 is measured with fio's nbd engine (fio lets libnbd read
 * no file named in a URI, so the CA sits where libnbd looks by default,
 * $HOME/.pki/libnbd); TLS-PSK, which fio cannot name, with nbdcopy reading
 * the whole export. Prints the tables with ratios and the peak RSS.
 */
import { mkdirSync, copyFileSync } from "node:fs";
import { join } from "node:path";
import type { FioJob, FioResult } from "../src/lab/bench/fio.ts";
import { markdownTable } from "../src/lab/bench/markdown.ts";
import { peakRssMiB, stop } from "../src/lab/bench/process.ts";
import { makeTlsCredentials } from "../test/helpers/tls-credentials.ts";
import type { Target } from "./nbd.ts";

interface TlsBenchOptions {
  dir: string;
  photon: string;
  token: string;
  /** The raw 1 GiB file, served by Photon as volume "bench". */
  raw: string;
  jobs: FioJob[];
  reps: number;
  measure(targets: Target[]): Promise<Record<string, FioResult[]>>;
  cell(job: FioJob, r: FioResult): string;
  value(job: FioJob, r: FioResult): number;
}

const PORTS = { photon: 17810, nbdkitX509: 17811, nbdkitPsk: 17812 } as const;

export async function benchTls(o: TlsBenchOptions): Promise<void> {
  const creds = await makeTlsCredentials(join(o.dir, "tls"), { pskUsers: ["bench"], clients: [] });
  const home = join(o.dir, "tls-home");
  mkdirSync(join(home, ".pki", "libnbd"), { recursive: true });
  copyFileSync(creds.caFile, join(home, ".pki", "libnbd", "ca-cert.pem"));
  const cert = ["--tls-cert", join(creds.serverDir, "server-cert.pem"), "--tls-key", join(creds.serverDir, "server-key.pem")];
  const photon = await serve("photon", PORTS.photon, [
    o.photon, "nbd-export", "--data-dir", join(o.dir, "photon"), "--listen", `127.0.0.1:${PORTS.photon}`, "--socket", "none",
    "--admin", "127.0.0.1:0", "--log-level", "warn", "--tls", "require", ...cert, "--tls-psk", creds.pskFile,
  ], { PHOTON_TOKEN: o.token });
  const nbdkitX509 = await serve("nbdkit", PORTS.nbdkitX509, ["nbdkit", "-f", "-i", "127.0.0.1", "-p", String(PORTS.nbdkitX509), "--tls=require", `--tls-certificates=${creds.serverDir}`, "file", o.raw]);
  const nbdkitPsk = await serve("nbdkit", PORTS.nbdkitPsk, ["nbdkit", "-f", "-i", "127.0.0.1", "-p", String(PORTS.nbdkitPsk), "--tls=require", `--tls-psk=${creds.pskFile}`, "file", o.raw]);
  try {
    const wrap = (argv: string[]) => ["env", `HOME=${home}`, ...argv];
    const targets: Target[] = [
      { name: "photon", fio: { uri: `nbds://127.0.0.1:${PORTS.photon}/bench` }, wrap, stop: async () => {} },
      { name: "nbdkit", fio: { uri: `nbds://127.0.0.1:${PORTS.nbdkitX509}/` }, wrap, stop: async () => {} },
    ];
    const results = await o.measure(targets);
    console.log(`\n### TLS (X.509, TLS 1.3) over TCP loopback, fio nbd engine (median of ${o.reps})\n`);
    console.log(
      markdownTable(
        ["job", "photon", "nbdkit", "photon / nbdkit"],
        o.jobs.map((job, i) => {
          const [p, n] = [results.photon![i]!, results.nbdkit![i]!];
          return [job.name, o.cell(job, p), o.cell(job, n), `${(o.value(job, p) / o.value(job, n)).toFixed(2)}×`];
        }),
      ),
    );
    const psk = { photon: [] as number[], nbdkit: [] as number[] };
    const uri = { photon: `nbds://bench@127.0.0.1:${PORTS.photon}/bench`, nbdkit: `nbds://bench@127.0.0.1:${PORTS.nbdkitPsk}/` };
    for (let rep = 0; rep < o.reps; rep++) {
      for (const name of rep % 2 === 0 ? (["photon", "nbdkit"] as const) : (["nbdkit", "photon"] as const)) {
        psk[name].push(await nbdcopySeconds(`${uri[name]}?tls-psk-file=${creds.pskFile}`));
      }
    }
    const med = (v: number[]) => [...v].sort((a, b) => a - b)[Math.floor(v.length / 2)]!;
    const [p, n] = [1024 / med(psk.photon), 1024 / med(psk.nbdkit)];
    console.log(`\n### TLS-PSK over TCP loopback: nbdcopy reads the 1 GiB export (median of ${o.reps})\n`);
    console.log(markdownTable(["reader", "photon", "nbdkit", "photon / nbdkit"], [["nbdcopy → null:", `${p.toFixed(0)} MiB/s`, `${n.toFixed(0)} MiB/s`, `${(p / n).toFixed(2)}×`]]));
    console.log(`\nPeak RSS: photon ${peakRssMiB(photon.pid).toFixed(0)} MiB, nbdkit (X.509) ${peakRssMiB(nbdkitX509.pid).toFixed(0)} MiB, nbdkit (PSK) ${peakRssMiB(nbdkitPsk.pid).toFixed(0)} MiB`);
  } finally {
    await Promise.all([photon, nbdkitX509, nbdkitPsk].map((proc) => stop(proc)));
  }
}

/** Starts a server and waits until its TCP port accepts connections. */
async function serve(name: string, port: number, argv: string[], env: Record<string, string> = {}) {
  const proc = Bun.spawn(argv, { stdout: "inherit", stderr: "inherit", env: { ...process.env, ...env } });
  for (let i = 0; ; i++) {
    const open = await Bun.connect({ hostname: "127.0.0.1", port, socket: { data() {} } }).then((s) => (s.end(), true), () => false);
    if (open) return proc;
    if (i === 400 || proc.exitCode !== null) throw new Error(`${name} did not listen on ${port}`);
    await Bun.sleep(25);
  }
}

/** Seconds nbdcopy takes to read all of `uri` (and throw it away). */
async function nbdcopySeconds(uri: string): Promise<number> {
  const started = performance.now();
  const proc = Bun.spawn(["nbdcopy", uri, "null:"], { stdout: "inherit", stderr: "inherit" });
  if ((await proc.exited) !== 0) throw new Error(`nbdcopy ${uri} failed`);
  return (performance.now() - started) / 1000;
}
