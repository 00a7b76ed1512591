import { readFileSync } from "node:fs";

/** QEMU refused to start (bad kernel path, an export it could not open…): its own message. */
export class QemuLaunchError extends Error {
  constructor(
    readonly exitCode: number,
    readonly stderr: string,
  ) {
    super(`QEMU exited with ${exitCode}: ${stderr || "(no message)"}`);
    this.name = "QemuLaunchError";
  }
}

/**
 * Runs a `-daemonize` QEMU command line: the parent process exits once the
 * daemon has set up its devices (disks opened, monitor listening), with an
 * error message on stderr when that failed. Resolves to the daemon's pid.
 */
export async function launchDaemonized(argv: string[], pidFile: string, timeoutMs = 60_000): Promise<number> {
  const proc = Bun.spawn(argv, { stdin: "ignore", stdout: "pipe", stderr: "pipe" });
  const timer = setTimeout(() => proc.kill("SIGKILL"), timeoutMs);
  const [code, stdout, stderr] = await Promise.all([proc.exited, new Response(proc.stdout).text(), new Response(proc.stderr).text()]);
  clearTimeout(timer);
  const message = `${stderr}${stdout}`.trim().slice(-2000);
  if (code !== 0) throw new QemuLaunchError(code, message);
  const pid = readPidFile(pidFile);
  if (pid === undefined) throw new QemuLaunchError(code, `no pid in ${pidFile}${message ? `: ${message}` : ""}`);
  return pid;
}

/** The pid in a QEMU pidfile, if there is one. */
export function readPidFile(path: string): number | undefined {
  try {
    const pid = Number(readFileSync(path, "utf8").trim());
    return Number.isInteger(pid) && pid > 0 ? pid : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Whether `pid` is a live QEMU started with `marker` (its QMP socket path)
 * on its command line — a recycled pid is not. A zombie counts as dead: a
 * daemonized QEMU's parent is init, which may reap it late.
 */
export function isQemuAlive(pid: number, marker: string): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    const state = stat.slice(stat.lastIndexOf(")") + 2, stat.lastIndexOf(")") + 3);
    if (state === "Z" || state === "X") return false;
    const cmdline = readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0");
    return cmdline.some((arg) => arg.includes(marker));
  } catch {
    return false;
  }
}

/** Sends `signal` to a QEMU checked with {@link isQemuAlive}; false when it was not there. */
export function signalQemu(pid: number, marker: string, signal: NodeJS.Signals): boolean {
  if (!isQemuAlive(pid, marker)) return false;
  try {
    process.kill(pid, signal);
    return true;
  } catch {
    return false;
  }
}
