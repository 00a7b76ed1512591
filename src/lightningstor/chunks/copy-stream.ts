/** Bytes queued for one node before the sender waits for it. */
const COPY_QUEUE_BYTES = 1024 * 1024;

/**
 * One copy's bytes on their way to a node: a request body fed piece by piece.
 * `push` waits while the node is behind; a copy that stopped (its node failed
 * or answered) takes nothing more and holds nobody up.
 */
export class CopyStream {
  readonly body: ReadableStream<Uint8Array>;
  private controller!: ReadableStreamDefaultController<Uint8Array>;
  stopped = false;
  private demand?: () => void;

  constructor() {
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
    while (!this.stopped && (this.controller.desiredSize ?? 0) <= 0) await new Promise<void>((resolve) => (this.demand = resolve));
  }

  end(): void {
    if (!this.stopped) this.controller.close();
  }

  fail(err: Error): void {
    if (!this.stopped) this.controller.error(err);
    this.stop();
  }

  stop(): void {
    this.stopped = true;
    this.wake();
  }

  private wake(): void {
    const demand = this.demand;
    this.demand = undefined;
    demand?.();
  }
}
