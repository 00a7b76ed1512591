import type { Logger } from "../../util/log.ts";
import { VmError } from "./errors.ts";
import { diskNodeName } from "../qemu/command-line.ts";
import { isQemuAlive, readPidFile, signalQemu } from "../qemu/process.ts";
import { QmpClient, QmpClosedError, type QmpEvent } from "../qemu/qmp.ts";
import type { VmRecord, VmRuntimeDir } from "./runtime-dir.ts";

/** A VM's state as the API reports it. */
export type VmState = "starting" | "running" | "paused" | "stopping" | "stopped" | "crashed";

/** How often a VM without a monitor connection, or one whose monitor closed, is looked for in /proc. */
const PID_POLL_MS = 100;
const ORPHAN_POLL_MS = 1000;
/** After `quit` (or SIGTERM) QEMU gets this long before SIGKILL. */
const QUIT_GRACE_MS = 5000;

/** What a VM needs from its host. */
export interface HostedVmContext {
  log: Logger;
  /** Called once when a QEMU ends without being asked to (the VM crashed). */
  onCrash(vm: HostedVm): void;
  /** Ends the watching of every VM (the agent stops; the VMs keep running). */
  signal: AbortSignal;
}

/**
 * One VM and the QEMU process running it: its monitor connection, the events
 * it reports, and the end of the process, which is a crash unless a stop was
 * asked for or the guest powered off (QEMU runs with `-no-shutdown`, so a
 * power-off leaves it alive in status `shutdown` until it is told to quit).
 */
export class HostedVm {
  state: VmState = "starting";
  pid: number | undefined;
  /** The last `query-status` answer or status event (running, paused, shutdown…). */
  qmpStatus: string | undefined;
  ioErrors = 0;
  private qmp: QmpClient | undefined;
  private gone: Promise<void> = Promise.resolve();
  private markGone: () => void = () => {};
  private stopRequested = false;
  private poweredOff = false;

  constructor(
    readonly dir: VmRuntimeDir,
    public record: VmRecord,
    private readonly context: HostedVmContext,
  ) {}

  get name(): string {
    return this.dir.name;
  }

  /** Whether a QEMU process is (or may still be) running for this VM. */
  get live(): boolean {
    return this.state === "starting" || this.state === "running" || this.state === "paused" || this.state === "stopping";
  }

  /** Resolves once the current QEMU process is gone. */
  exited(): Promise<void> {
    return this.gone;
  }

  /** Begins watching a QEMU just launched (`pid`), before its monitor is connected. */
  beginRun(pid: number): void {
    this.pid = pid;
    this.state = "starting";
    this.stopRequested = false;
    this.poweredOff = false;
    this.ioErrors = 0;
    this.gone = new Promise((resolve) => (this.markGone = resolve));
  }

  /** Connects the monitor and waits until `query-block` shows every disk inserted. */
  async attach(diskCount: number, timeoutMs = 10_000): Promise<void> {
    const qmp = await QmpClient.connect(this.dir.qmpSocket, { timeoutMs });
    this.useMonitor(qmp);
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const blocks = await qmp.execute<{ inserted?: { "node-name"?: string } }[]>("query-block");
      const inserted = new Set(blocks.map((b) => b.inserted?.["node-name"]));
      if (Array.from({ length: diskCount }, (_, i) => diskNodeName(i)).every((n) => inserted.has(n))) break;
      if (Date.now() > deadline) throw new Error(`QMP query-block does not show all ${diskCount} disks after ${timeoutMs} ms`);
      await Bun.sleep(20);
    }
    await this.refreshStatus();
    this.watchFirstOutput();
  }

  /**
   * Takes over a QEMU that outlived an agent: alive (pidfile + /proc) with an
   * answering monitor → running again; dead → stopped or crashed, from the record.
   */
  async adopt(): Promise<void> {
    const pid = readPidFile(this.dir.pidFile);
    if (pid === undefined || !isQemuAlive(pid, this.dir.qmpSocket)) {
      this.pid = pid;
      this.settleDeadOnArrival();
      return;
    }
    this.beginRun(pid);
    try {
      this.useMonitor(await QmpClient.connect(this.dir.qmpSocket, { timeoutMs: 3000 }));
      await this.refreshStatus();
      if (this.qmpStatus === "shutdown") {
        // The guest powered off while no agent was watching.
        this.poweredOff = true;
        this.background(this.quitAfterPowerOff(), "quit after a power-off");
      }
      this.watchFirstOutput();
    } catch (err) {
      // Alive but not answering: keep it visible and stoppable by signal; its exit is still noticed.
      this.context.log.warn("adopted a QEMU whose monitor does not answer", { vm: this.name, pid, err });
      this.state = "running";
      this.background(this.pollUntilGone(ORPHAN_POLL_MS), "watching the process");
    }
  }

  /** Asks QEMU for its status; updates the state from it. */
  async refreshStatus(): Promise<void> {
    if (!this.qmp?.open) return;
    const status = await this.qmp.execute<{ status: string }>("query-status", undefined, { timeoutMs: 3000 });
    this.applyStatus(status.status);
  }

  /**
   * Stops the VM: `system_powerdown` and up to `timeoutMs` for the guest to
   * power off, then `quit`, then SIGKILL; `force` quits at once. Resolves once
   * the process is gone.
   */
  async stop(options: { force: boolean; timeoutMs: number }): Promise<void> {
    if (!this.live) return;
    this.stopRequested = true;
    this.record = { ...this.record, intent: "stop" };
    this.dir.write(this.record);
    this.state = "stopping";
    const qmp = this.qmp?.open ? this.qmp : undefined;
    if (!options.force && qmp) {
      await this.command(qmp, "system_powerdown");
      if (await this.exitsWithin(options.timeoutMs)) return;
    }
    if (qmp) await this.command(qmp, "quit");
    else if (this.pid !== undefined) signalQemu(this.pid, this.dir.qmpSocket, "SIGTERM");
    if (await this.exitsWithin(QUIT_GRACE_MS)) return;
    this.context.log.warn("QEMU did not quit; killing it", { vm: this.name, pid: this.pid });
    if (this.pid !== undefined) signalQemu(this.pid, this.dir.qmpSocket, "SIGKILL");
    await this.gone;
  }

  /** `system_reset`: the guest reboots at once. */
  async reboot(): Promise<void> {
    if (!this.live) throw new VmError("conflict", `VM "${this.name}" is ${this.state}`);
    if (!this.qmp?.open) throw new VmError("conflict", `VM "${this.name}" has no monitor connection; stop it instead`);
    await this.qmp.execute("system_reset");
  }

  /** Forgets a QEMU that failed to attach and is being killed: its end is no crash, and nothing is recorded. */
  abandon(): void {
    this.state = "stopped";
    this.qmp?.close();
    this.qmp = undefined;
    this.markGone();
  }

  /** Lets go of the monitor (the agent stops); QEMU keeps running. */
  detach(): void {
    this.qmp?.close();
  }

  private useMonitor(qmp: QmpClient): void {
    this.qmp = qmp;
    qmp.onEvent((event) => this.onEvent(event));
    void qmp.closed.then(() => {
      if (!this.context.signal.aborted && this.live) this.background(this.pollUntilGone(PID_POLL_MS), "watching the process");
    });
  }

  private onEvent(event: QmpEvent): void {
    switch (event.event) {
      case "STOP":
        if (this.state === "running") this.state = "paused";
        this.qmpStatus = "paused";
        return;
      case "RESUME":
        if (this.state === "paused") this.state = "running";
        this.qmpStatus = "running";
        return;
      case "RESET":
        this.context.log.info("VM reset", { vm: this.name, ...event.data });
        return;
      case "SHUTDOWN":
        this.qmpStatus = "shutdown";
        if (event.data.reason !== "host-qmp-quit") {
          this.poweredOff = true;
          this.background(this.quitAfterPowerOff(), "quit after a power-off");
        }
        return;
      case "BLOCK_IO_ERROR":
        this.ioErrors++;
        this.context.log.warn("guest disk I/O error", { vm: this.name, ...event.data });
        return;
    }
  }

  private applyStatus(status: string): void {
    this.qmpStatus = status;
    if (this.state === "stopping") return;
    this.state = status === "running" ? "running" : "paused";
  }

  /** After a guest power-off (`-no-shutdown` kept QEMU alive): quit it. */
  private async quitAfterPowerOff(): Promise<void> {
    this.context.log.info("guest powered off", { vm: this.name });
    if (this.state !== "stopping") this.state = "stopping";
    this.record = { ...this.record, intent: "stop" };
    this.dir.write(this.record);
    if (this.qmp?.open) await this.command(this.qmp, "quit");
  }

  /** Runs a command whose answer may not come because QEMU exits meanwhile. */
  private async command(qmp: QmpClient, command: string): Promise<void> {
    try {
      await qmp.execute(command, undefined, { timeoutMs: 5000 });
    } catch (err) {
      if (err instanceof QmpClosedError) return; // QEMU exited: what the command was for
      this.context.log.warn(`QMP ${command} failed`, { vm: this.name, err });
    }
  }

  private async exitsWithin(ms: number): Promise<boolean> {
    let timer: ReturnType<typeof setTimeout> | undefined;
    const timeout = new Promise<false>((resolve) => (timer = setTimeout(() => resolve(false), ms)));
    const result = await Promise.race([this.gone.then(() => true as const), timeout]);
    clearTimeout(timer);
    return result;
  }

  private async pollUntilGone(everyMs: number): Promise<void> {
    while (this.pid !== undefined && isQemuAlive(this.pid, this.dir.qmpSocket)) {
      if (this.context.signal.aborted) return;
      await Bun.sleep(everyMs);
    }
    this.settleExit();
  }

  /** The process is gone: stopped when asked or powered off, else crashed. */
  private settleExit(): void {
    if (!this.live) return;
    const crashed = !this.stopRequested && !this.poweredOff;
    const reason = this.stopRequested ? "stop-request" : this.poweredOff ? "guest-poweroff" : "QEMU exited without a stop request";
    this.finish(crashed ? "crashed" : "stopped", reason);
    this.markGone();
  }

  /** A VM found dead when the agent starts: its record tells whether that was meant. */
  private settleDeadOnArrival(): void {
    if (this.record.exit) {
      this.state = this.record.exit.state;
      this.dir.clearRuntime();
      return;
    }
    if (this.record.intent === "stop") this.finish("stopped", "stop-request");
    else this.finish("crashed", "QEMU was gone when the agent started");
  }

  private finish(state: "stopped" | "crashed", reason: string): void {
    this.state = state;
    this.qmp?.close();
    this.qmp = undefined;
    this.dir.clearRuntime();
    this.record = { ...this.record, exit: { at: new Date().toISOString(), state, reason } };
    this.dir.write(this.record);
    if (state === "crashed") this.context.onCrash(this);
    else this.context.log.info("VM stopped", { vm: this.name, reason });
  }

  /** Notes when the serial console first gets bytes (the guest's first output). */
  private watchFirstOutput(): void {
    if (this.record.firstOutputAt !== undefined) return;
    const check = async () => {
      while (this.live && !this.context.signal.aborted) {
        if (this.dir.consoleSize() > 0) {
          this.record = { ...this.record, firstOutputAt: new Date().toISOString() };
          this.dir.write(this.record);
          return;
        }
        await Bun.sleep(50);
      }
    };
    this.background(check(), "watching the console");
  }

  /** Runs a task nobody awaits; a failure is logged once with the VM. */
  private background(task: Promise<void>, what: string): void {
    task.catch((err: unknown) => this.context.log.error(`VM host: ${what} failed`, { vm: this.name, err }));
  }
}
