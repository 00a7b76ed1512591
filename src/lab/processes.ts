import { readdirSync, readFileSync, readlinkSync } from "node:fs";

/** Whether `pid` exists (EPERM: it does, someone else's) and is not a zombie waiting to be reaped. */
export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch (err) {
    return (err as { code?: string }).code === "EPERM";
  }
  try {
    // A dead child of a dead lab is reparented; until its new parent reaps it, kill(0) succeeds.
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    return stat.slice(stat.lastIndexOf(")") + 2, stat.lastIndexOf(")") + 3) !== "Z";
  } catch {
    return false;
  }
}

/** A process's argv, or undefined when it is gone. */
export function commandLine(pid: number): string[] | undefined {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0").slice(0, -1);
  } catch {
    return undefined;
  }
}

/**
 * Whether `pid` is one of the lab in `dir`'s processes: a service whose
 * `--data-dir` is a node's dir under `dir` (a `tail -f` of a log is not), a
 * VM's QEMU whose pidfile is in a node's `vms/` (they outlive their agent by design),
 * or the PostgreSQL server (`postgres -D`) of node01's cluster (postgres.ts).
 */
export function isLabChild(pid: number, dir: string): boolean {
  const argv = commandLine(pid) ?? [];
  const underNode = (flag: string, rest: RegExp) => {
    const value = argv[argv.indexOf(flag) + 1];
    return argv.includes(flag) && value !== undefined && value.startsWith(`${dir}/`) && rest.test(value.slice(dir.length + 1));
  };
  return (
    underNode("--data-dir", /^node\d+$/) ||
    (/qemu-system/.test(argv[0] ?? "") && underNode("-pidfile", /^node\d+\/vms\//)) ||
    (/\/postgres$/.test(argv[0] ?? "") && underNode("-D", /^node\d+\/postgres\/data$/))
  );
}

/** Every process of the lab in `dir`, found by its data dir: for orphans no state file lists. */
export function findLabChildren(dir: string): number[] {
  return readdirSync("/proc")
    .filter((entry) => /^\d+$/.test(entry))
    .map(Number)
    .filter((pid) => pid !== process.pid && isLabChild(pid, dir));
}

/** SIGTERM, then SIGKILL after `graceMs`, and wait until every one is gone. */
export async function terminate(pids: number[], graceMs = 10_000): Promise<void> {
  const signal = (pid: number, sig: NodeJS.Signals) => {
    try {
      process.kill(pid, sig);
    } catch {
      // already gone
    }
  };
  for (const pid of pids) signal(pid, "SIGTERM");
  const deadline = Date.now() + graceMs;
  while (pids.some(isAlive)) {
    if (Date.now() > deadline) pids.filter(isAlive).forEach((pid) => signal(pid, "SIGKILL"));
    await Bun.sleep(25);
  }
}

/** `/proc/net/tcp`'s spelling of an IPv4 address and port: little-endian hex, e.g. 0101007F:1B9E. */
function procTcpAddress(host: string, port: number): string {
  const hex = host.split(".").reverse().map((b) => Number(b).toString(16).padStart(2, "0")).join("");
  return `${hex}:${port.toString(16).padStart(4, "0")}`.toUpperCase();
}

/**
 * Whether `pid` itself holds a listening TCP socket on host:port: the socket's inode in its
 * network namespace's `/proc/<pid>/net/tcp` is one of its open fds. A health check answered by
 * some other process on that address (another lab) does not count.
 */
export function listensOn(pid: number, host: string, port: number): boolean {
  const want = procTcpAddress(host, port);
  let inodes: Set<string>;
  try {
    const rows = readFileSync(`/proc/${pid}/net/tcp`, "utf8").split("\n").slice(1);
    inodes = new Set(rows.map((r) => r.trim().split(/\s+/)).filter((f) => f[1] === want && f[3] === "0A").map((f) => f[9]!));
    if (inodes.size === 0) return false;
    return readdirSync(`/proc/${pid}/fd`).some((fd) => {
      try {
        return inodes.has(/^socket:\[(\d+)\]$/.exec(readlinkSync(`/proc/${pid}/fd/${fd}`))?.[1] ?? "");
      } catch {
        return false;
      }
    });
  } catch {
    return false;
  }
}

/** Throws when host:port cannot be bound here (a lab or another service holds it). */
export function assertBindable(host: string, port: number): void {
  let probe;
  try {
    probe = Bun.listen({ hostname: host, port, socket: { data() {} } });
  } catch (err) {
    throw new Error(`${host}:${port} is already in use (${(err as { code?: string }).code ?? (err as Error).message}): another lab or service holds it; choose other ports with --base-port, --nbd-port and --s3-port`);
  }
  probe.stop(true);
}

/**
 * The prefix that makes a child die with the lab: `setpriv --pdeathsig SIGTERM` (util-linux)
 * sets PR_SET_PDEATHSIG, which survives the exec of `ip netns exec` and of Photon itself.
 */
export function pdeathsigPrefix(): string[] {
  return Bun.which("setpriv") ? ["setpriv", "--pdeathsig", "SIGTERM", "--"] : [];
}
