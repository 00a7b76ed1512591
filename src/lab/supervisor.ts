import { closeSync, openSync } from "node:fs";
import type { TrustedCa } from "../http/client-tls.ts";
import { join } from "node:path";
import type { Subprocess } from "bun";
import type { Logger } from "../util/log.ts";
import { serviceHealthy } from "./health.ts";
import { LogTail } from "./log-tail.ts";
import { assertBindable, isAlive, listensOn } from "./processes.ts";

/** One Photon process the lab runs. */
export interface LabProcess {
  node: string;
  mode: string;
  args: string[];
  /** Another program's whole argv (the lab's PostgreSQL) instead of this binary in `mode` with `args`. */
  command?: string[];
  /** Added to the environment (secrets kept off the command line). */
  env?: Record<string, string>;
  /** Default SIGTERM. */
  stopSignal?: NodeJS.Signals;
  /** The admin URL whose `/healthz` says the process is ready, or the `postgres://` URL that answers a query (health.ts). */
  healthUrl: string;
  logFile: string;
  /** Run inside this network namespace (`ip netns exec`). */
  netns?: string;
  /** TCP addresses it binds: it is healthy only once it holds every one itself. */
  listens: { host: string; port: number }[];
}

/** What `lab status` shows of one child. */
export interface ChildStatus {
  node: string;
  mode: string;
  pid: number;
  /** Restarts after crashes since `lab up`. */
  restarts: number;
  state: "starting" | "up" | "restarting" | "stopped";
  healthUrl: string;
  logFile: string;
}

/** How the supervisor spawns and watches its children. */
export interface SupervisorOptions {
  /** Before the binary: e.g. `setpriv --pdeathsig SIGTERM --` so children die with the lab. */
  prefix: string[];
  /** Bind-test every listen address before starting (loopback: addresses are shared with the host). */
  checkBindable: boolean;
  /** Called whenever a child's PID, state or restart count changes. */
  onChange(): void;
  /** Aborting it abandons a start that is still waiting for health. */
  signal: AbortSignal;
  healthTimeoutMs?: number;
  /** A TLS lab's CA (PEM), which the health checks verify the services against. */
  ca?: TrustedCa;
}

/** Restart delays after a crash: 0.5 s doubling to 30 s; a child up for a minute starts over. */
const backoffMs = (failures: number) => Math.min(30_000, 500 * 2 ** failures);
const stableAfterMs = 60_000;

/** One supervised child: spawned, health-checked, restarted after crashes until stopped. */
class Child {
  proc?: Subprocess;
  restarts = 0;
  state: ChildStatus["state"] = "starting";
  private stopping = false;
  private wake?: () => void;

  constructor(
    readonly spec: LabProcess,
    private readonly options: SupervisorOptions,
    private readonly log: Logger,
  ) {}

  /** Starts it and waits until it is healthy; throws if it exits or stays unhealthy. */
  async start(): Promise<void> {
    this.spawn();
    await this.waitHealthy();
    this.setState("up");
    void this.supervise();
  }

  private spawn(): void {
    const spec = this.spec;
    if (this.options.checkBindable) for (const l of spec.listens) assertBindable(l.host, l.port);
    const out = openSync(spec.logFile, "a");
    const netns = spec.netns ? ["ip", "netns", "exec", spec.netns] : [];
    try {
      // detached: its own session, so a Ctrl-C or hang-up on the lab's terminal reaches the lab
      // alone, which then stops the children in order instead of racing their restarts.
      this.proc = Bun.spawn([...this.options.prefix, ...netns, ...(spec.command ?? [process.execPath, spec.mode, ...spec.args])], {
        stdin: "ignore",
        stdout: out,
        stderr: out,
        detached: true,
        // The lab decides each service's metadata: a PHOTON_METADATA of the operator's shell is not passed on.
        env: { ...process.env, PHOTON_TOKEN: undefined, PHOTON_METADATA: undefined, ...spec.env },
      });
    } finally {
      closeSync(out);
    }
    this.log.info("starting", { node: spec.node, mode: spec.mode, pid: this.proc.pid, log: spec.logFile });
    this.options.onChange();
  }

  /** Healthy: the child is alive, holds each of its listen addresses itself, and its health check passes. */
  private async waitHealthy(): Promise<void> {
    const { spec, proc } = { spec: this.spec, proc: this.proc! };
    const deadline = Date.now() + (this.options.healthTimeoutMs ?? 30_000);
    while (Date.now() < deadline) {
      if (proc.exitCode !== null || proc.signalCode !== null) {
        throw new Error(`${spec.node} ${spec.mode} exited (${proc.signalCode ?? `code ${proc.exitCode}`}) before it was healthy; see ${spec.logFile}`);
      }
      if (this.options.signal.aborted) throw new Error(`${spec.node} ${spec.mode}: start abandoned (${String(this.options.signal.reason)})`);
      if (spec.listens.every((l) => listensOn(proc.pid, l.host, l.port))) {
        if ((await serviceHealthy(spec.healthUrl, this.options.ca)) && proc.exitCode === null) return;
      }
      await Bun.sleep(50);
    }
    proc.kill("SIGKILL");
    throw new Error(`${spec.node} ${spec.mode} did not become healthy within ${(this.options.healthTimeoutMs ?? 30_000) / 1000} s; see ${spec.logFile}`);
  }

  /** Waits for the running child to exit; unless stopping, restarts it after a backoff. */
  private async supervise(): Promise<void> {
    const spec = this.spec;
    let failures = 0;
    for (;;) {
      const proc = this.proc!;
      const upSince = Date.now();
      await proc.exited;
      if (this.stopping) return;
      if (Date.now() - upSince > stableAfterMs) failures = 0;
      const delay = backoffMs(failures++);
      this.restarts++;
      this.setState("restarting");
      this.log.warn("exited; restarting", { node: spec.node, mode: spec.mode, pid: proc.pid, code: proc.exitCode, signal: proc.signalCode, restarts: this.restarts, inMs: delay, log: spec.logFile });
      await new Promise<void>((resolve) => {
        this.wake = resolve;
        setTimeout(resolve, delay);
      });
      if (this.stopping) return;
      try {
        this.spawn();
        await this.waitHealthy();
        this.setState("up");
        this.log.info("restarted", { node: spec.node, mode: spec.mode, pid: this.proc!.pid, restarts: this.restarts });
      } catch (err) {
        this.log.error("restart failed", { node: spec.node, mode: spec.mode, error: (err as Error).message });
        if (this.proc && this.proc.exitCode === null && this.proc.signalCode === null) this.proc.kill("SIGKILL");
        if (this.stopping) return;
      }
    }
  }

  /** Its stop signal (SIGKILL after `graceMs`), waiting for the exit; cancels a pending restart. */
  async stop(graceMs = 15_000): Promise<void> {
    this.stopping = true;
    this.wake?.();
    const proc = this.proc;
    if (!proc) return;
    if (proc.exitCode === null && proc.signalCode === null) {
      proc.kill(this.spec.stopSignal ?? "SIGTERM");
      const timer = setTimeout(() => proc.kill("SIGKILL"), graceMs);
      await proc.exited;
      clearTimeout(timer);
      this.log.info("stopped", { node: this.spec.node, mode: this.spec.mode, code: proc.exitCode, signal: proc.signalCode });
    }
    this.setState("stopped");
  }

  status(): ChildStatus {
    const { node, mode, healthUrl, logFile } = this.spec;
    return { node, mode, pid: this.proc?.pid ?? 0, restarts: this.restarts, state: this.state, healthUrl, logFile };
  }

  private setState(state: ChildStatus["state"]): void {
    this.state = state;
    this.options.onChange();
  }
}

/**
 * Starts Photon processes (this same binary in other modes), restarts those that crash with
 * backoff, and stops them in reverse order. Children get the cluster token from their data
 * dir, never on their command line; their output goes to log files, whose warnings and
 * errors the lab's own log repeats.
 */
export class Supervisor {
  private readonly children: Child[] = [];
  private readonly tail: LogTail;

  constructor(
    private readonly log: Logger,
    private readonly options: SupervisorOptions,
  ) {
    this.tail = new LogTail(log);
  }

  /** Starts `spec` and waits until it is healthy; throws (leaving it stopped) if it is not. */
  async start(spec: LabProcess): Promise<void> {
    const child = new Child(spec, this.options, this.log);
    this.children.push(child);
    this.tail.add(spec.logFile, { node: spec.node, mode: spec.mode }, spec.mode === "postgres" ? "postgres" : "json");
    await child.start();
    this.log.info("started", { node: spec.node, mode: spec.mode, pid: child.proc!.pid });
  }

  status(): ChildStatus[] {
    return this.children.map((c) => c.status());
  }

  /** PIDs of every child that is (or may be) running. */
  pids(): number[] {
    return this.children.map((c) => c.proc?.pid ?? 0).filter((pid) => pid > 0 && isAlive(pid));
  }

  /** Stops every child, newest first, waiting for each. */
  async stopAll(): Promise<void> {
    for (const child of [...this.children].reverse()) await child.stop();
    this.tail.stop();
  }
}

/** The log file of one process in the lab's data dir. */
export function logFileFor(labDir: string, node: string, mode: string): string {
  return join(labDir, node, `${mode}.log`);
}
