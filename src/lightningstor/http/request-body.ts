import { ChunkedDecoder, type RequestHead } from "./request-head.ts";

/** Request body bytes queued for the handler before reading from the client pauses. */
const BODY_QUEUE_BYTES = 4 * 1024 * 1024;

/**
 * A request body as a stream for the handler, fed from the socket. Reading
 * from the client pauses while too much is queued (TCP backpressure).
 */
export class RequestBody {
  readonly stream: ReadableStream<Uint8Array>;
  complete = false;
  private controller!: ReadableStreamDefaultController<Uint8Array>;
  private remaining = 0;
  private readonly decoder?: ChunkedDecoder;

  constructor(
    framing: Exclude<RequestHead["body"], { kind: "none" }>,
    private readonly socket: { pause(): void; resume(): void },
  ) {
    if (framing.kind === "length") this.remaining = framing.length;
    else this.decoder = new ChunkedDecoder();
    this.stream = new ReadableStream<Uint8Array>(
      {
        start: (controller) => {
          this.controller = controller;
        },
        pull: () => {
          socket.resume();
        },
      },
      { highWaterMark: 0, size: (piece) => piece?.byteLength ?? 0 },
    );
  }

  /** Takes the body's bytes out of `data`; returns what follows the body, if it ended. */
  feed(data: Buffer): Buffer | undefined {
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
      this.controller.error(err);
      this.complete = true; // nothing more of it is read; the connection closes after the answer
      return undefined;
    }
    for (const piece of pieces) if (piece.length > 0) this.controller.enqueue(piece);
    if (this.complete) this.controller.close();
    else if ((this.controller.desiredSize ?? 0) < -BODY_QUEUE_BYTES) this.socket.pause();
    return rest;
  }

  fail(reason: string): void {
    if (this.complete) return;
    this.complete = true;
    this.controller.error(new Error(reason));
  }
}
