import { existsSync, readFileSync } from "node:fs";
import type { Subprocess } from "bun";

/** Peak resident set size of a process, in MiB (VmHWM). */
export function peakRssMiB(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, "utf8");
  const match = /VmHWM:\s+(\d+) kB/.exec(status);
  return match ? Number(match[1]) / 1024 : NaN;
}

/** CPU time a process has used, in clock ticks (user + system). */
export function cpuTicks(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1]!.split(" ");
  return Number(fields[11]) + Number(fields[12]);
}

/**
 * Collects this (client) process's garbage, flushes what the kernel still holds
 * to write (inode times, the journal) and waits (at most `timeoutMs`) until the processes are idle — no CPU used over
 * 100 ms — so that one server's leftover work (a garbage collection after a
 * run, say) does not land in the next server's measurement on a 2-core host.
 */
export async function quiesce(pids: number[], timeoutMs = 3_000): Promise<void> {
  Bun.gc(true); // the client's own garbage, collected now rather than inside the next timing
  Bun.spawnSync(["sync"]);
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const before = pids.reduce((sum, pid) => sum + cpuTicks(pid), 0);
    await Bun.sleep(100);
    if (pids.reduce((sum, pid) => sum + cpuTicks(pid), 0) - before <= 1) return;
  }
}

/** Waits until a server's unix socket exists (every exporter here creates it when it listens). */
export async function waitForSocket(path: string, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (existsSync(path)) return;
    await Bun.sleep(20);
  }
  throw new Error(`${path} did not come up`);
}

/** Stops a process and waits for it. */
export async function stop(proc: Subprocess): Promise<void> {
  proc.kill("SIGTERM");
  await proc.exited;
}

/** Runs a command to completion; throws with its stderr when it fails. Resolves to its stdout. */
export async function runChecked(argv: string[], env?: Record<string, string | undefined>): Promise<string> {
  const proc = Bun.spawn(argv, { stdout: "pipe", stderr: "pipe", env: env ? { ...process.env, ...env } : undefined });
  const [out, err, code] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text(), proc.exited]);
  if (code !== 0) throw new Error(`${argv.join(" ")} failed (${code}): ${err.trim().slice(-2000)}`);
  return out;
}
