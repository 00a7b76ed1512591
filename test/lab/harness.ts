import { GetObjectCommand, PutObjectCommand, CreateBucketCommand, S3Client } from "@aws-sdk/client-s3";
import { expect } from "bun:test";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { NbdClient } from "../../src/coronafs/nbd/client.ts";
import { findLabChildren, isAlive } from "../../src/lab/processes.ts";
import { readLabState, readLabStateFile, type LabState } from "../../src/lab/state.ts";
import type { LabStatus } from "../../src/lab/status.ts";
import { runPhoton, startPhoton, waitFor, type PhotonProcess } from "../helpers/photon.ts";

/** The lab's children's log files, for a failure message. */
export function childLogs(labDir: string): string {
  if (!existsSync(labDir)) return "";
  const files = readdirSync(labDir, { recursive: true, encoding: "utf8" }).filter((f) => f.endsWith(".log"));
  return files.map((f) => `--- ${f}\n${readFileSync(join(labDir, f), "utf8").slice(-2000)}`).join("\n");
}

/** Starts `photon lab up` and waits until its state says every service is up. */
export async function labUp(dir: string, args: string[]): Promise<{ lab: PhotonProcess; state: LabState }> {
  const lab = startPhoton(["lab", "up", "--dir", dir, ...args]);
  const state = await waitFor(
    () => {
      if (lab.proc.exitCode !== null) throw new Error(`lab up exited ${lab.proc.exitCode}: ${lab.rawStderr.join("").slice(-3000)}`);
      const s = readLabState(dir);
      return s?.phase === "up" && s.pid === lab.proc.pid ? s : undefined;
    },
    "lab up",
    60_000,
  ).catch(async (err: Error) => {
    await lab[Symbol.asyncDispose]();
    throw new Error(`${err.message}\n${childLogs(dir)}`);
  });
  return { lab, state };
}

/**
 * A loopback lab on a random block of ports (below the ephemeral range). Loopback addresses
 * are shared with everything on this host, so `lab up` bind-tests them and refuses ports
 * another process holds: then another block is tried.
 */
export async function loopbackLab(dir: string, nodes = 3, extra: string[] = []): Promise<{ lab: PhotonProcess; state: LabState; ports: string[] }> {
  for (let attempt = 0; ; attempt++) {
    const base = 20_000 + Math.floor(Math.random() * 1_200) * 10;
    const ports = ["--base-port", String(base), "--nbd-port", String(base + 8), "--s3-port", String(base + 9)];
    try {
      return { ...(await labUp(dir, ["--network", "loopback", "--nodes", String(nodes), ...ports, ...extra])), ports };
    } catch (err) {
      if (attempt < 5 && /already in use/.test((err as Error).message)) continue;
      throw err;
    }
  }
}

/** Runs `lab down` when disposed: a failed test leaves no lab, namespace or bridge behind. */
export function labCleanup(dir: string): AsyncDisposable {
  return { [Symbol.asyncDispose]: async () => void (await runPhoton(["lab", "down", "--dir", dir])) };
}

/** `lab status --json`. */
export async function labStatus(dir: string): Promise<{ code: number; status: LabStatus }> {
  const out = await runPhoton(["lab", "status", "--dir", dir, "--json"]);
  return { code: out.code, status: JSON.parse(out.stdout || "{}") };
}

/** The environment `lab env` prints, parsed from its export lines. */
export async function labEnv(dir: string): Promise<Record<string, string>> {
  const out = await runPhoton(["lab", "env", "--dir", dir]);
  expect(out.code).toBe(0);
  return Object.fromEntries(out.stdout.trim().split("\n").map((line) => {
    const [, name, value] = /^export (\w+)='([^']*)'/.exec(line)!;
    return [name!, value!];
  }));
}

/** A PUT then GET through the lab's gateway with the credentials `lab env` gives. */
export async function s3RoundTrip(env: Record<string, string>, bucket = "lab-bucket"): Promise<void> {
  const s3 = new S3Client({
    endpoint: env.AWS_ENDPOINT_URL,
    region: env.AWS_REGION,
    forcePathStyle: true,
    credentials: { accessKeyId: env.AWS_ACCESS_KEY_ID!, secretAccessKey: env.AWS_SECRET_ACCESS_KEY! },
  });
  try {
    await s3.send(new CreateBucketCommand({ Bucket: bucket }));
    const body = Buffer.from("lab object ".repeat(10_000));
    await s3.send(new PutObjectCommand({ Bucket: bucket, Key: "hello", Body: body }));
    const read = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: "hello" }));
    expect(Buffer.from(await read.Body!.transformToByteArray()).equals(body)).toBe(true);
  } finally {
    s3.destroy();
  }
}

/**
 * Creates a volume through the lab's nbd-export, writes it over NBD, reads its header with
 * qemu-img, and materializes it onto node02 (whose agent reads it from node01 across the lab's
 * network and serves it on a unix socket in its own data dir).
 */
export async function nbdVolume(state: LabState, env: Record<string, string>): Promise<void> {
  const auth = { env: { PHOTON_TOKEN: env.PHOTON_TOKEN! } };
  const created = await runPhoton(["volume", "create", "labvol", "--size", "8M", "--server", state.nbdAdminUrl], auth);
  expect(created.stderr).toBe("");
  const client = await NbdClient.connect({ uri: `${state.nbdUrl}/labvol` });
  await client.write(0, Buffer.alloc(4096, 0x5a));
  await client.flush();
  await client.close();
  const info = Bun.spawnSync(["qemu-img", "info", "--output=json", `${state.nbdUrl}/labvol`], { stdout: "pipe", stderr: "pipe" });
  expect(info.stderr.toString()).toBe("");
  expect(JSON.parse(info.stdout.toString())["virtual-size"]).toBe(8 * 1024 * 1024);
  const node02 = state.nodes[1]!;
  const local = await runPhoton(["volume", "create", "labvol", "--from", `${state.nbdUrl}/labvol`, "--json", "--server", node02.agentUrl], auth);
  expect(local.stderr).toBe("");
  const unixUri = (JSON.parse(local.stdout) as { uris: { unix: string } }).uris.unix;
  expect(unixUri).toContain(node02.dataDir);
  const onNode02 = await NbdClient.connect({ uri: unixUri });
  expect((await onNode02.read(0, 4096)).equals(Buffer.alloc(4096, 0x5a))).toBe(true);
  await onNode02.close();
}

/** The TCP listeners on `addresses` in this network namespace (from /proc/net/tcp). */
export function listenersOn(addresses: string[]): string[] {
  const hex = (a: string) => a.split(".").reverse().map((b) => Number(b).toString(16).padStart(2, "0")).join("").toUpperCase();
  const wanted = new Set(addresses.map(hex));
  return readFileSync("/proc/net/tcp", "utf8")
    .split("\n")
    .slice(1)
    .map((r) => r.trim().split(/\s+/))
    .filter((f) => f[3] === "0A" && wanted.has(f[1]?.split(":")[0] ?? ""))
    .map((f) => f[1]!);
}

/** Nothing of the lab in `dir` is left: processes, state file, unix sockets, and in netns mode namespaces, links and qdiscs. */
export function expectNothingLeft(dir: string, state: LabState): void {
  expect(readLabStateFile(dir)).toBeUndefined();
  expect(findLabChildren(dir)).toEqual([]);
  expect(state.children.map((c) => c.pid).filter(isAlive)).toEqual([]);
  expect(readdirSync(dir, { recursive: true, encoding: "utf8" }).filter((f) => f.endsWith(".sock"))).toEqual([]);
  expect(listenersOn(state.nodes.map((n) => n.address))).toEqual([]);
  if (state.network === "netns") {
    const run = (argv: string[]) => Bun.spawnSync(argv, { stdout: "pipe" }).stdout.toString();
    expect(run(["ip", "netns", "list"])).not.toContain(`photon-${state.id}-`);
    expect(run(["ip", "-br", "link"])).not.toContain(state.id);
    expect(run(["tc", "qdisc", "show"])).not.toContain(state.id);
  }
}
