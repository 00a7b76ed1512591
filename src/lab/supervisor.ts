import { openSync } from "node:fs";
import { join } from "node:path";
import type { Subprocess } from "bun";
import type { Logger } from "../util/log.ts";

/** One Photon process the lab runs. */
export interface LabProcess {
  node: string;
  mode: string;
  args: string[];
  /** The admin URL whose `/healthz` says the process is ready. */
  healthUrl: string;
  logFile: string;
}

/**
 * Starts Photon processes (this same binary in other modes) and stops them in
 * reverse order. Children get the cluster token from their data dir, never on
 * their command line; their logs go to files.
 */
export class Supervisor {
  private readonly running: { spec: LabProcess; proc: Subprocess }[] = [];

  constructor(private readonly log: Logger) {}

  async start(spec: LabProcess, env: Record<string, string | undefined> = {}): Promise<void> {
    this.log.info("starting", { node: spec.node, mode: spec.mode, log: spec.logFile });
    const out = openSync(spec.logFile, "a");
    const proc = Bun.spawn([process.execPath, spec.mode, ...spec.args], {
      stdin: "ignore",
      stdout: out,
      stderr: out,
      env: { ...process.env, PHOTON_TOKEN: undefined, ...env },
    });
    this.running.push({ spec, proc });
    await waitHealthy(spec, proc);
    this.log.info("started", { node: spec.node, mode: spec.mode, pid: proc.pid });
  }

  /** SIGTERM to every child, newest first, waiting for each. */
  async stopAll(): Promise<void> {
    for (const { spec, proc } of this.running.reverse()) {
      proc.kill("SIGTERM");
      const code = await proc.exited;
      this.log.info("stopped", { node: spec.node, mode: spec.mode, code });
    }
    this.running.length = 0;
  }
}

async function waitHealthy(spec: LabProcess, proc: Subprocess, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (proc.exitCode !== null) throw new Error(`${spec.node} ${spec.mode} exited with ${proc.exitCode}; see ${spec.logFile}`);
    try {
      // Bounded: a port taken by something that is not Photon must not hang the lab.
      if ((await fetch(spec.healthUrl, { signal: AbortSignal.timeout(2_000) })).ok) return;
    } catch {
      // not listening yet
    }
    await Bun.sleep(50);
  }
  throw new Error(`${spec.node} ${spec.mode} did not become healthy; see ${spec.logFile}`);
}

/** The log file of one process in the lab's data dir. */
export function logFileFor(labDir: string, node: string, mode: string): string {
  return join(labDir, node, `${mode}.log`);
}
