import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import type { Subprocess } from "bun";
import { waitFor } from "./wait-for.ts";

/** The compiled binary under test (built by `scripts/test` before the suite runs). */
export const photonBinary = resolve(import.meta.dir, "../../dist/photon");

/** A temp dir removed when disposed (`await using dir = tempDir()`). */
export function tempDir(prefix = "photon-test-"): { path: string; [Symbol.dispose](): void } {
  const path = mkdtempSync(join(tmpdir(), prefix));
  return { path, [Symbol.dispose]: () => rmSync(path, { recursive: true, force: true }) };
}

export { waitFor } from "./wait-for.ts";

/** A log line a Photon server wrote (JSON lines on a non-TTY stderr). */
export type LogLine = { msg: string; level: string; [key: string]: unknown };

/** A running Photon server process. */
export class PhotonProcess {
  readonly lines: LogLine[] = [];
  readonly rawStderr: string[] = [];
  readonly exited: Promise<number>;

  constructor(
    readonly proc: Subprocess<"ignore", "pipe", "pipe">,
    readonly args: string[],
  ) {
    this.exited = proc.exited;
    void this.pump();
  }

  private async pump(): Promise<void> {
    const decoder = new TextDecoder();
    let buffered = "";
    for await (const chunk of this.proc.stderr) {
      const text = decoder.decode(chunk, { stream: true });
      this.rawStderr.push(text);
      buffered += text;
      let newline: number;
      while ((newline = buffered.indexOf("\n")) >= 0) {
        const line = buffered.slice(0, newline);
        buffered = buffered.slice(newline + 1);
        try {
          this.lines.push(JSON.parse(line) as LogLine);
        } catch {
          // not a log line (e.g. a crash trace); kept in rawStderr
        }
      }
    }
  }

  /** Waits for a log line matching `predicate`. */
  waitForLog(predicate: (line: LogLine) => boolean, what: string): Promise<LogLine> {
    return waitFor(() => this.lines.find(predicate), `${what} (stderr: ${this.rawStderr.join("").slice(-2000)})`);
  }

  /** The URL of the listener of `kind` (the admin API by default), from its log line. */
  async url(kind = "admin"): Promise<string> {
    const line = await this.waitForLog((l) => l.msg === "listening" && l.kind === kind, `listening ${kind}`);
    return String(line.url);
  }

  /** SIGTERM, then wait for exit; returns the exit code. */
  async stop(signal: NodeJS.Signals = "SIGTERM"): Promise<number> {
    if (this.proc.exitCode === null && this.proc.signalCode === null) this.proc.kill(signal);
    return this.exited;
  }

  async [Symbol.asyncDispose](): Promise<void> {
    if (this.proc.exitCode === null && this.proc.signalCode === null) this.proc.kill("SIGKILL");
    await this.exited;
  }
}

/** Options for spawning the binary. */
export interface SpawnOptions {
  env?: Record<string, string>;
  cwd?: string;
  binary?: string;
  /** Arguments between `binary` and Photon's own, e.g. to run it under strace. */
  prefix?: string[];
}

/** Starts a long-running Photon mode. */
export function startPhoton(args: string[], options: SpawnOptions = {}): PhotonProcess {
  const command = options.prefix ? [options.binary!, ...options.prefix, photonBinary, ...args] : [options.binary ?? photonBinary, ...args];
  const proc = Bun.spawn(command, {
    stdin: "ignore",
    stdout: "pipe",
    stderr: "pipe",
    cwd: options.cwd,
    env: { PATH: process.env.PATH ?? "/usr/bin:/bin", HOME: process.env.HOME ?? "/root", ...options.env },
  });
  return new PhotonProcess(proc, args);
}

/** Runs a Photon command to completion. */
export async function runPhoton(args: string[], options: SpawnOptions = {}): Promise<{ code: number; stdout: string; stderr: string }> {
  const proc = Bun.spawn([options.binary ?? photonBinary, ...args], {
    stdin: "ignore",
    stdout: "pipe",
    stderr: "pipe",
    cwd: options.cwd,
    env: { PATH: process.env.PATH ?? "/usr/bin:/bin", HOME: process.env.HOME ?? "/root", ...options.env },
  });
  const [stdout, stderr, code] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text(), proc.exited]);
  return { code, stdout, stderr };
}

/** Fetches with the cluster token. */
export function authed(token: string, init: RequestInit = {}): RequestInit {
  return { ...init, headers: { authorization: `Bearer ${token}`, ...(init.headers as Record<string, string>) } };
}
