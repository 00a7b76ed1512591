/** Bytes queued for one node before the sender waits for it. */
const COPY_QUEUE_BYTES = 1024 * 1024;

/** When a copy's node counts as hung, and what then happens. */
export interface CopyDeadlines {
  /** The node took none of the queued bytes for this long. */
  stallMs: number;
  /** The node has not answered this long after the last byte was queued (it fsyncs first). */
  answerMs: number;
  /** Called once, with why, when a deadline passes: the caller aborts the request. */
  expired: (err: Error) => void;
}

/**
 * One copy's bytes on their way to a node: a request body fed piece by piece.
 * `push` waits while the node is behind; a copy that stopped (its node failed,
 * answered or missed a deadline) takes nothing more and holds nobody up.
 */
export class CopyStream {
  readonly body: ReadableStream<Uint8Array>;
  private controller!: ReadableStreamDefaultController<Uint8Array>;
  stopped = false;
  /** Whether the copy ended because its node missed a deadline (not because the sender failed it). */
  expired = false;
  private demand?: () => void;
  private answerTimer?: ReturnType<typeof setTimeout>;
  /** Whether every byte was queued (`end`) before the copy stopped. */
  closed = false;

  constructor(private readonly deadlines?: CopyDeadlines) {
    this.body = new ReadableStream<Uint8Array>(
      {
        start: (controller) => {
          this.controller = controller;
        },
        pull: () => this.wake(),
        cancel: () => this.stop(),
      },
      { highWaterMark: COPY_QUEUE_BYTES, size: (piece) => piece?.byteLength ?? 0 },
    );
  }

  async push(piece: Uint8Array): Promise<void> {
    if (this.stopped) return;
    this.controller.enqueue(piece);
    while (!this.stopped && (this.controller.desiredSize ?? 0) <= 0) {
      let timer: ReturnType<typeof setTimeout> | undefined;
      const taken = await new Promise<boolean>((resolve) => {
        this.demand = () => resolve(true);
        if (this.deadlines) timer = setTimeout(() => resolve(false), this.deadlines.stallMs);
      });
      clearTimeout(timer);
      if (!taken) this.expire(new Error(`the node took no bytes for ${this.deadlines!.stallMs} ms`));
    }
  }

  end(): void {
    if (this.stopped) return;
    this.controller.close();
    this.closed = true;
    const deadlines = this.deadlines;
    if (deadlines) this.answerTimer = setTimeout(() => this.expire(new Error(`no answer ${deadlines.answerMs} ms after the copy was sent`)), deadlines.answerMs);
  }

  fail(err: Error): void {
    if (!this.stopped && !this.closed) this.controller.error(err);
    this.stop();
  }

  stop(): void {
    this.stopped = true;
    clearTimeout(this.answerTimer);
    this.wake();
  }

  private expire(err: Error): void {
    if (this.stopped) return;
    this.expired = true;
    this.fail(err);
    this.deadlines!.expired(err);
  }

  private wake(): void {
    const demand = this.demand;
    this.demand = undefined;
    demand?.();
  }
}
