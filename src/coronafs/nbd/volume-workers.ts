import { MessageChannel, type MessagePort } from "node:worker_threads";
import type { Logger, LogLevel } from "../../util/log.ts";
import { dupBlocking } from "../../util/linux.ts";
import type { VolumeSpec } from "./exports.ts";
import type { Negotiated } from "./handshake.ts";
import type { WorkerControl, WorkerInit, WorkerReport } from "./io-worker.ts";

/** How long an idle connection's worker sleeps in recv before looking at control messages. */
const RECEIVE_TIMEOUT_MS = 100;

interface VolumeWorker {
  worker: Worker;
  port: MessagePort;
  flag: Int32Array;
  ready: Promise<void>;
  exited: Promise<void>;
  connections: Map<number, () => void>;
  stopping: boolean;
}

/**
 * One I/O worker per volume with open connections (see io-worker.ts). A
 * volume's worker is stopped — flushing and closing the image — when its
 * last connection ends, and a new one starts only after the old one exited,
 * so an image is never open twice for writing.
 */
export class VolumeWorkers {
  private readonly workers = new Map<string, VolumeWorker>();
  /** Connections handed over but not attached yet (their worker is starting or stopping). */
  private readonly attaching = new Map<string, number>();
  private nextId = 1;

  constructor(
    private readonly log: Logger,
    private readonly logLevel: LogLevel,
  ) {}

  /** Open connections to a volume. */
  connections(volume: string): number {
    return (this.workers.get(volume)?.connections.size ?? 0) + (this.attaching.get(volume) ?? 0);
  }

  /**
   * Hands a negotiated connection to the volume's worker. `fd` is the
   * socket's descriptor (duplicated here); `onClosed` runs when the worker
   * has finished with it.
   */
  async attach(volume: string, spec: VolumeSpec, fd: number, negotiated: Negotiated, rest: Buffer, onClosed: () => void): Promise<void> {
    this.attaching.set(volume, (this.attaching.get(volume) ?? 0) + 1);
    let entry: VolumeWorker | undefined;
    try {
      entry = this.workers.get(volume);
      while (entry?.stopping) {
        await entry.exited;
        entry = this.workers.get(volume);
      }
      entry ??= this.spawn(volume, spec);
      await entry.ready;
    } finally {
      this.attaching.set(volume, this.attaching.get(volume)! - 1);
    }
    const id = this.nextId++;
    entry.connections.set(id, onClosed);
    const restCopy = rest.buffer.slice(rest.byteOffset, rest.byteOffset + rest.length) as ArrayBuffer;
    this.send(entry, { type: "attach", id, fd: dupBlocking(fd, RECEIVE_TIMEOUT_MS), negotiated, rest: restCopy });
  }

  /** Ends every connection to a volume and waits until its image is closed. */
  async disconnect(volume: string): Promise<void> {
    const entry = this.workers.get(volume);
    if (!entry) return;
    this.stop(entry);
    await entry.exited;
  }

  /** Stops every worker (server shutdown). */
  async stopAll(): Promise<void> {
    const all = [...this.workers.values()];
    for (const entry of all) this.stop(entry);
    await Promise.all(all.map((e) => e.exited));
  }

  private spawn(volume: string, spec: VolumeSpec): VolumeWorker {
    const { port1, port2 } = new MessageChannel();
    const flag = new Int32Array(new SharedArrayBuffer(4));
    const worker = new Worker(workerEntry());
    let readyResolve!: () => void;
    let readyReject!: (err: Error) => void;
    let exitedResolve!: () => void;
    const entry: VolumeWorker = {
      worker,
      port: port1,
      flag,
      ready: new Promise((resolve, reject) => ((readyResolve = resolve), (readyReject = reject))),
      exited: new Promise((resolve) => (exitedResolve = resolve)),
      connections: new Map(),
      stopping: false,
    };
    const finish = () => {
      if (this.workers.get(volume) === entry) this.workers.delete(volume);
      for (const onClosed of entry.connections.values()) onClosed();
      entry.connections.clear();
      port1.close();
      worker.terminate();
      exitedResolve();
    };
    worker.onmessage = (event: MessageEvent<WorkerReport>) => {
      const report = event.data;
      if (report.type === "ready") readyResolve();
      else if (report.type === "failed") {
        this.log.error("cannot open volume in its I/O worker", { volume, error: report.message });
        readyReject(new Error(report.message));
        finish();
      } else if (report.type === "closed") {
        this.log.debug("connection closed", { volume, conn: report.id, reason: report.reason });
        entry.connections.get(report.id)?.();
        entry.connections.delete(report.id);
        if (entry.connections.size === 0) this.stop(entry);
      } else if (report.type === "exited") finish();
    };
    worker.onerror = (event) => {
      this.log.error("I/O worker crashed", { volume, error: String(event.message) });
      readyReject(new Error("I/O worker crashed"));
      finish();
    };
    const init: WorkerInit = { spec, volume, logLevel: this.logLevel, port: port2, flag };
    worker.postMessage(init, [port2] as never);
    this.workers.set(volume, entry);
    return entry;
  }

  private stop(entry: VolumeWorker): void {
    if (entry.stopping) return;
    entry.stopping = true;
    this.send(entry, { type: "shutdown" });
  }

  private send(entry: VolumeWorker, message: WorkerControl): void {
    entry.port.postMessage(message);
    Atomics.store(entry.flag, 0, 1);
    Atomics.notify(entry.flag, 0);
  }
}

/**
 * Where the worker's code is. From source it sits beside this file; in the
 * compiled binary (built with io-worker.ts as a second entry point) it is at
 * its path under src/, inside the binary's embedded file system.
 */
function workerEntry(): string {
  const compiled = import.meta.url.includes("$bunfs");
  return compiled ? "./coronafs/nbd/io-worker.ts" : new URL("./io-worker.ts", import.meta.url).href;
}
