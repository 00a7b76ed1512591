import { BodyTooSlowError } from "./listener-limits.ts";
import { ChunkedDecoder, type RequestHead } from "./request-head.ts";

/** Request body bytes queued for the handler before reading from the client pauses. */
const BODY_QUEUE_BYTES = 4 * 1024 * 1024;

/** How fast a body must arrive (listener-limits.ts), and what to do when it does not. */
export interface BodyRate {
  graceMs: number;
  minBytesPerSecond: number;
  /** Called once when the body fell behind; the stream has failed with BodyTooSlowError by then. */
  tooSlow(received: number): void;
}

/**
 * A request body as a stream for the handler, fed from the socket. Reading
 * from the client pauses while too much is queued (TCP backpressure). The
 * body must keep up with `rate`: its deadline starts at `graceMs` and grows by
 * a second per `minBytesPerSecond` bytes, and stands still while reading is
 * paused, so only the client's slowness counts.
 */
export class RequestBody {
  readonly stream: ReadableStream<Uint8Array>;
  complete = false;
  /** Ended without all its bytes (cut, or the connection went): what follows on the connection is not a request. */
  failed = false;
  private controller!: ReadableStreamDefaultController<Uint8Array>;
  private remaining = 0;
  private readonly decoder?: ChunkedDecoder;
  private received = 0;
  private readonly startedAt = performance.now();
  /** Time spent paused so far, and since when it is paused now. */
  private pausedMs = 0;
  private pausedSince?: number;
  private timer?: ReturnType<typeof setTimeout>;
  /** Set while the rest is read only to be dropped (discardRest): what settles the wait. */
  private discarding?: { done(complete: boolean): void; upTo: number };

  constructor(
    framing: Exclude<RequestHead["body"], { kind: "none" }>,
    private readonly socket: { pause(): void; resume(): void },
    private readonly rate?: BodyRate,
  ) {
    if (framing.kind === "length") this.remaining = framing.length;
    else this.decoder = new ChunkedDecoder();
    this.stream = new ReadableStream<Uint8Array>(
      {
        start: (controller) => {
          this.controller = controller;
        },
        pull: () => this.resume(),
      },
      { highWaterMark: 0, size: (piece) => piece?.byteLength ?? 0 },
    );
    if (rate) this.timer = setTimeout(() => this.checkRate(), rate.graceMs);
  }

  /** Takes the body's bytes out of `data`; returns what follows the body, if it ended. */
  feed(data: Buffer): Buffer | undefined {
    if (this.complete) return data;
    let pieces: Buffer[];
    let rest: Buffer | undefined;
    try {
      if (this.decoder) {
        ({ data: pieces, rest } = this.decoder.feed(data));
        this.complete = this.decoder.done;
      } else {
        const take = Math.min(this.remaining, data.length);
        pieces = [data.subarray(0, take)];
        rest = take < data.length ? data.subarray(take) : undefined;
        this.remaining -= take;
        this.complete = this.remaining === 0;
      }
    } catch (err) {
      this.end(err as Error);
      return undefined;
    }
    this.received += data.length - (rest?.length ?? 0);
    if (this.discarding) {
      if (this.complete) clearTimeout(this.timer);
      if (this.complete || this.received > this.discarding.upTo) this.discarding.done(this.complete);
      return rest;
    }
    for (const piece of pieces) if (piece.length > 0) this.controller.enqueue(piece);
    if (this.complete) {
      clearTimeout(this.timer);
      this.controller.close();
    } else if ((this.controller.desiredSize ?? 0) < -BODY_QUEUE_BYTES) this.pause();
    return rest;
  }

  /**
   * Reads the rest of a body that was answered without it, dropping it, so
   * that the connection is not closed on unread bytes (the kernel would then
   * reset it, and the client could lose the answer before reading it).
   * Resolves true once the body is complete; false, reading no further, when
   * more than `maxBytes` remain or `ms` pass first (the connection then closes as it is).
   */
  discardRest(maxBytes: number, ms: number): Promise<boolean> {
    if (this.complete) return Promise.resolve(!this.failed);
    if (!this.decoder && this.remaining > maxBytes) return Promise.resolve(false);
    return new Promise<boolean>((resolve) => {
      const timer = setTimeout(() => this.discarding?.done(false), ms);
      this.discarding = {
        upTo: this.received + maxBytes,
        done: (complete) => {
          clearTimeout(timer);
          this.discarding = undefined;
          resolve(complete);
        },
      };
      this.resume();
    });
  }

  fail(reason: string): void {
    this.end(new Error(reason));
  }

  /** Ends the body with `err` (nothing more of it is read; the connection closes after the answer). */
  private end(err: Error): void {
    if (this.complete) return;
    this.complete = true;
    this.failed = true;
    clearTimeout(this.timer);
    if (this.discarding) return this.discarding.done(false);
    this.controller.error(err);
  }

  private pause(): void {
    if (this.pausedSince !== undefined) return;
    this.pausedSince = performance.now();
    clearTimeout(this.timer);
    this.socket.pause();
  }

  private resume(): void {
    if (this.pausedSince !== undefined) {
      this.pausedMs += performance.now() - this.pausedSince;
      this.pausedSince = undefined;
      if (this.rate && !this.complete) this.checkRate();
    }
    this.socket.resume();
  }

  /** Cuts the body once it is behind its deadline; otherwise looks again at the deadline. */
  private checkRate(): void {
    const rate = this.rate!;
    const deadline = this.startedAt + this.pausedMs + rate.graceMs + (this.received * 1000) / rate.minBytesPerSecond;
    const left = deadline - performance.now();
    if (left > 0) {
      this.timer = setTimeout(() => this.checkRate(), left);
      return;
    }
    this.end(new BodyTooSlowError(this.received));
    rate.tooSlow(this.received);
  }
}
