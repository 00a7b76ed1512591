import { dupFd } from "../../util/linux.ts";
import { workerEntry } from "../../util/worker-entry.ts";
import type { FilePart } from "./file-body.ts";
import type { SendJob, SendResult } from "./send-worker.ts";

interface Job {
  resolve(): void;
  reject(err: Error): void;
}

/**
 * Send workers (see send-worker.ts), started on demand up to `max`; one
 * response body at a time each, further ones wait for a free worker.
 */
export class SendPool {
  private readonly idle: Worker[] = [];
  private readonly jobs = new Map<Worker, Job>();
  private readonly waiting: ((worker: Worker) => void)[] = [];
  private started = 0;
  private nextId = 1;

  constructor(private readonly max: number) {}

  /** Sends `parts` on socket `fd` (which stays the caller's: the worker gets a dup). */
  async send(fd: number, parts: FilePart[]): Promise<void> {
    const worker = await this.acquire();
    try {
      await new Promise<void>((resolve, reject) => {
        this.jobs.set(worker, { resolve, reject });
        worker.postMessage({ id: this.nextId++, fd: dupFd(fd), parts } satisfies SendJob);
      });
    } finally {
      this.jobs.delete(worker);
      const next = this.waiting.shift();
      if (next) next(worker);
      else this.idle.push(worker);
    }
  }

  stop(): void {
    for (const worker of [...this.idle, ...this.jobs.keys()]) worker.terminate();
  }

  private acquire(): Promise<Worker> {
    const worker = this.idle.pop();
    if (worker) return Promise.resolve(worker);
    if (this.started < this.max) return Promise.resolve(this.start());
    return new Promise((resolve) => this.waiting.push(resolve));
  }

  private start(): Worker {
    this.started++;
    const worker = new Worker(workerEntry("lightningstor/http/send-worker.ts"));
    worker.unref();
    worker.onmessage = (event: MessageEvent<SendResult>) => {
      const job = this.jobs.get(worker);
      if (event.data.error === undefined) job?.resolve();
      else job?.reject(new Error(event.data.error));
    };
    worker.onerror = (event) => {
      this.jobs.get(worker)?.reject(new Error(`send worker failed: ${event.message}`));
    };
    return worker;
  }
}
