import { MessageChannel, type MessagePort } from "node:worker_threads";
import type { Logger, LogLevel } from "../../util/log.ts";
import { closeFd, dupFd, dupForWorker, shutdownRead } from "../../util/linux.ts";
import type { VolumeSpec } from "../backend/open-volume.ts";
import type { Negotiated } from "./handshake.ts";
import type { TlsHandle } from "../tls/session.ts";
import type { NbdStats } from "./stats.ts";
import { workerEntry } from "../../util/worker-entry.ts";
import type { WorkerControl, WorkerInit, WorkerReport } from "./io-worker.ts";

/**
 * How long a shared (qcow2) worker sleeps in recv before looking at control
 * messages — a new connection for the same image may be waiting.
 */
const SHARED_RECEIVE_TIMEOUT_MS = 100;

interface Connection {
  /** Main's own duplicate of the socket: shutting down its read side wakes the worker's recv. */
  wakeFd: number;
  onClosed: () => void;
}

interface IoWorker {
  volume: string;
  worker: Worker;
  port: MessagePort;
  flag: Int32Array;
  ready: Promise<void>;
  exited: Promise<void>;
  connections: Map<number, Connection>;
  stopping: boolean;
  receiveTimeoutMs: number;
}

/**
 * The I/O workers (see io-worker.ts). A qcow2 volume has one worker for all
 * its connections — its metadata must live in one place — stopped (flushing
 * and closing the image) when the last connection ends; a new one starts
 * only after the old one exited, so an image is never open twice for
 * writing. A raw volume has no such state: each connection gets its own
 * worker, which sleeps in recv(2) without a timeout, and FLUSH (fdatasync of
 * the one file) still covers every connection.
 */
export class VolumeWorkers {
  private readonly workers = new Set<IoWorker>();
  private readonly shared = new Map<string, IoWorker>();
  /** Connections handed over but not attached yet (their worker is starting or stopping). */
  private readonly attaching = new Map<string, number>();
  private nextId = 1;

  constructor(
    private readonly log: Logger,
    private readonly logLevel: LogLevel,
    /** The counters every worker adds to. */
    readonly stats: NbdStats,
  ) {}

  /** Open connections to every volume. */
  totalConnections(): number {
    let n = 0;
    for (const count of this.attaching.values()) n += count;
    for (const w of this.workers) n += w.connections.size;
    return n;
  }

  /** Open connections to a volume. */
  connections(volume: string): number {
    let n = this.attaching.get(volume) ?? 0;
    for (const w of this.workers) if (w.volume === volume) n += w.connections.size;
    return n;
  }

  /**
   * Hands a negotiated connection to an I/O worker. `fd` is the socket's
   * descriptor (duplicated here); `tls` its TLS session, which the worker
   * continues and frees; `onClosed` runs when the worker is done with it.
   */
  async attach(
    volume: string,
    spec: VolumeSpec,
    fd: number,
    negotiated: Negotiated,
    rest: Buffer,
    tls: TlsHandle | undefined,
    onClosed: () => void,
  ): Promise<void> {
    this.attaching.set(volume, (this.attaching.get(volume) ?? 0) + 1);
    let entry: IoWorker;
    try {
      entry = spec.format === "raw" ? this.spawn(volume, spec, 0) : await this.sharedWorker(volume, spec);
      await entry.ready;
    } finally {
      this.attaching.set(volume, this.attaching.get(volume)! - 1);
    }
    const id = this.nextId++;
    entry.connections.set(id, { wakeFd: dupFd(fd), onClosed });
    const restCopy = rest.buffer.slice(rest.byteOffset, rest.byteOffset + rest.length) as ArrayBuffer;
    this.send(entry, { type: "attach", id, fd: dupForWorker(fd, entry.receiveTimeoutMs), negotiated, rest: restCopy, tls });
  }

  private async sharedWorker(volume: string, spec: VolumeSpec): Promise<IoWorker> {
    let entry = this.shared.get(volume);
    while (entry?.stopping) {
      await entry.exited;
      entry = this.shared.get(volume);
    }
    if (!entry) {
      entry = this.spawn(volume, spec, SHARED_RECEIVE_TIMEOUT_MS);
      this.shared.set(volume, entry);
    }
    return entry;
  }

  /** Ends every connection to a volume and waits until its image is closed. */
  async disconnect(volume: string): Promise<void> {
    const ending = [...this.workers].filter((w) => w.volume === volume);
    for (const w of ending) this.stop(w);
    await Promise.all(ending.map((w) => w.exited));
  }

  /** Stops every worker (server shutdown). */
  async stopAll(): Promise<void> {
    const all = [...this.workers];
    for (const w of all) this.stop(w);
    await Promise.all(all.map((w) => w.exited));
  }

  private spawn(volume: string, spec: VolumeSpec, receiveTimeoutMs: number): IoWorker {
    const { port1, port2 } = new MessageChannel();
    const flag = new Int32Array(new SharedArrayBuffer(4));
    const worker = new Worker(workerEntry("coronafs/nbd/io-worker.ts"));
    let readyResolve!: () => void;
    let readyReject!: (err: Error) => void;
    let exitedResolve!: () => void;
    const entry: IoWorker = {
      volume,
      worker,
      port: port1,
      flag,
      ready: new Promise((resolve, reject) => ((readyResolve = resolve), (readyReject = reject))),
      exited: new Promise((resolve) => (exitedResolve = resolve)),
      connections: new Map(),
      stopping: false,
      receiveTimeoutMs,
    };
    const release = (connection: Connection) => {
      closeFd(connection.wakeFd);
      connection.onClosed();
    };
    const finish = () => {
      this.workers.delete(entry);
      if (this.shared.get(volume) === entry) this.shared.delete(volume);
      for (const connection of entry.connections.values()) release(connection);
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
        const connection = entry.connections.get(report.id);
        if (connection && entry.connections.size === 1) {
          // The last one counts until the worker has flushed and closed the image
          // (finish releases it): until then a resize or delete must wait.
          this.stop(entry);
        } else {
          entry.connections.delete(report.id);
          if (connection) release(connection);
        }
      } else if (report.type === "exited") finish();
    };
    worker.onerror = (event) => {
      this.log.error("I/O worker crashed", { volume, error: String(event.message) });
      readyReject(new Error("I/O worker crashed"));
      finish();
    };
    const init: WorkerInit = { spec, volume, logLevel: this.logLevel, port: port2, flag, stats: this.stats.buffer };
    worker.postMessage(init, [port2] as never);
    this.workers.add(entry);
    return entry;
  }

  private stop(entry: IoWorker): void {
    if (entry.stopping) return;
    entry.stopping = true;
    this.send(entry, { type: "shutdown" });
    // A worker asleep in recv wakes up to end-of-stream; a request being served still gets its reply.
    for (const connection of entry.connections.values()) shutdownRead(connection.wakeFd);
  }

  private send(entry: IoWorker, message: WorkerControl): void {
    entry.port.postMessage(message);
    Atomics.store(entry.flag, 0, 1);
    Atomics.notify(entry.flag, 0);
  }
}
