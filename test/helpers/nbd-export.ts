import { readFileSync } from "node:fs";
import { join } from "node:path";
import { startPhoton, tempDir, type PhotonProcess } from "./photon.ts";

/** A running nbd-export on port 0 with a unix socket, in its own temp data dir. */
export interface TestExport {
  proc: PhotonProcess;
  dataDir: string;
  admin: string;
  token: string;
  socket: string;
  tcpPort: number;
  tcpUri(name: string): string;
  unixUri(name: string): string;
  /** Calls the admin API with the token. */
  api(method: string, path: string, body?: unknown): Promise<Response>;
  /** Creates a volume through the API; fails the test on error. */
  createVolume(name: string, size: number | string, extra?: { format?: string; backing?: string }): Promise<{ name: string; sizeBytes: number }>;
  /** The path of a volume's file in the data dir. */
  volumeFile(name: string): Promise<string>;
  [Symbol.asyncDispose](): Promise<void>;
}

/**
 * Starts `photon nbd-export` in a fresh temp dir; `args` are appended, `wrap` runs it under
 * another program (strace); `ca` is the PEM file the admin API's certificate is checked against
 * when `args` give it one (--tls-cert).
 */
export async function startExport(options: { wrap?: string[]; dir?: string; token?: string; args?: string[]; ca?: string } = {}): Promise<TestExport> {
  const dir = options.dir ? { path: options.dir, [Symbol.dispose]() {} } : tempDir("photon-nbd-");
  const dataDir = join(dir.path, "data");
  const socket = join(dir.path, "nbd.sock");
  const token = options.token ?? "test-token-" + crypto.randomUUID();
  const args = ["nbd-export", "--data-dir", dataDir, "--listen", "127.0.0.1:0", "--socket", socket, "--admin", "127.0.0.1:0", ...(options.args ?? [])];
  const proc = startPhoton(args, { env: { PHOTON_TOKEN: token }, binary: options.wrap?.[0], prefix: options.wrap?.slice(1) });
  const admin = await proc.url();
  const nbdUrl = await proc.url("nbd");
  await proc.url("nbd-unix");
  const tcpPort = Number(new URL(nbdUrl).port);
  const api = (method: string, path: string, body?: unknown) =>
    fetch(admin + path, {
      method,
      headers: { authorization: `Bearer ${token}`, ...(body === undefined ? {} : { "content-type": "application/json" }) },
      body: body === undefined ? undefined : JSON.stringify(body),
      ...(options.ca ? { tls: { ca: readFileSync(options.ca, "utf8") } } : {}),
    });
  return {
    proc,
    dataDir,
    admin,
    token,
    socket,
    tcpPort,
    tcpUri: (name) => `nbd://127.0.0.1:${tcpPort}/${name}`,
    unixUri: (name) => `nbd+unix:///${name}?socket=${socket}`,
    api,
    async createVolume(name, size, extra = {}) {
      const res = await api("POST", "/v1/volumes", { name, size, ...extra });
      if (res.status !== 201) throw new Error(`create ${name}: ${res.status} ${await res.text()}`);
      return (await res.json()) as { name: string; sizeBytes: number };
    },
    async volumeFile(name) {
      const { Database } = await import("bun:sqlite");
      const db = new Database(join(dataDir, "nbd-export.db"), { readonly: true });
      const row = db.query<{ file: string }, [string]>("SELECT file FROM volumes WHERE name = ?").get(name);
      db.close();
      if (!row) throw new Error(`no volume ${name}`);
      return join(dataDir, "volumes", row.file);
    },
    async [Symbol.asyncDispose]() {
      await proc[Symbol.asyncDispose]();
      dir[Symbol.dispose]();
    },
  };
}

/** Runs a command to completion, capturing output. */
export async function run(cmd: string[], options: { cwd?: string; stdin?: Uint8Array } = {}): Promise<{ code: number; stdout: string; stderr: string }> {
  const proc = Bun.spawn(cmd, { cwd: options.cwd, stdout: "pipe", stderr: "pipe", stdin: options.stdin ?? "ignore" });
  const [stdout, stderr, code] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text(), proc.exited]);
  return { code, stdout, stderr };
}

/** Runs a command and fails with its output when it exits non-zero. */
export async function mustRun(cmd: string[], options: { cwd?: string } = {}): Promise<string> {
  const result = await run(cmd, options);
  if (result.code !== 0) throw new Error(`${cmd.join(" ")} exited ${result.code}:\n${result.stderr}\n${result.stdout}`);
  return result.stdout;
}
