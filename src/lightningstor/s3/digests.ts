import { workerEntry } from "../../util/worker-entry.ts";
import type { DigestAlgorithm, DigestMessage, DigestReply } from "./digest-worker.ts";

/** Bytes gathered before a batch goes to the worker. */
const BATCH_BYTES = 1024 * 1024;

let worker: Worker | undefined;
let nextId = 1;
const waiting = new Map<number, { resolve(digests: Buffer[]): void; reject(err: Error): void }>();

function digestWorker(): Worker {
  if (worker) return worker;
  worker = new Worker(workerEntry("lightningstor/s3/digest-worker.ts"));
  worker.unref();
  worker.onmessage = (event: MessageEvent<DigestReply>) => {
    waiting.get(event.data.id)?.resolve(event.data.digests.map((d) => Buffer.from(d)));
    waiting.delete(event.data.id);
  };
  worker.onerror = (event) => {
    // Uploads waiting on it fail (and a later one starts a new worker) rather than hang.
    worker = undefined;
    for (const { reject } of waiting.values()) reject(new Error(`the digest worker failed: ${event.message}`));
    waiting.clear();
  };
  return worker;
}

/**
 * An upload's MD5 (its ETag) and payload SHA-256, computed on a worker
 * thread. Together they run at ~500 MiB/s on one core; on the event loop
 * they would be the longest step of a PUT, off it they overlap receiving and
 * storing. Pieces are copied into batches (the caller keeps its buffers).
 */
export class OffThreadDigests {
  private readonly id = nextId++;
  private batch: Uint8Array[] = [];
  private batched = 0;
  private finished = false;

  constructor(algorithms: DigestAlgorithm[]) {
    this.post({ id: this.id, algorithms });
  }

  update(piece: Uint8Array): void {
    this.batch.push(piece);
    this.batched += piece.length;
    if (this.batched >= BATCH_BYTES) this.send();
  }

  /** The digests, in the order of the algorithms given. */
  async digest(): Promise<Buffer[]> {
    this.send();
    this.finished = true;
    return new Promise((resolve, reject) => {
      waiting.set(this.id, { resolve, reject });
      this.post({ id: this.id, digest: true });
    });
  }

  /** Releases the worker's state of an upload that failed. */
  drop(): void {
    if (this.finished) return;
    this.finished = true;
    this.post({ id: this.id, drop: true });
  }

  private send(): void {
    if (this.batched === 0) return;
    const data = new Uint8Array(this.batched);
    let at = 0;
    for (const piece of this.batch) {
      data.set(piece, at);
      at += piece.length;
    }
    this.batch = [];
    this.batched = 0;
    this.post({ id: this.id, data: data.buffer }, [data.buffer]);
  }

  private post(message: DigestMessage, transfer: ArrayBuffer[] = []): void {
    digestWorker().postMessage(message, transfer);
  }
}
