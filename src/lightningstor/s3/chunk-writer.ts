import type { ChunkInfo, ChunkStore } from "../chunks/chunk-store.ts";
import { CHUNK_SIZE, MAX_CHUNKS_IN_FLIGHT } from "./context.ts";

/** Bytes handed to one chunk's write and not yet taken by it, before `push` waits. */
const CHANNEL_BYTES = 4 * 1024 * 1024;

/**
 * Cuts a stream of pieces into chunks of CHUNK_SIZE and streams each to the
 * store as the pieces arrive, so storing overlaps receiving. A chunk whose
 * bytes are all handed over stays in flight until the store has it durably;
 * up to MAX_CHUNKS_IN_FLIGHT at once, each holding at most CHANNEL_BYTES of
 * memory. `finish` waits for every write; `abort` waits too, then deletes
 * whatever was written.
 */
export class ChunkWriter {
  readonly written: { id: string; size: number }[] = [];
  private readonly inFlight: Promise<ChunkInfo>[] = [];
  private current?: { id: string; size: number; channel: ByteChannel };

  constructor(private readonly store: ChunkStore) {}

  async push(piece: Uint8Array): Promise<void> {
    while (piece.length > 0) {
      const current = this.current ?? this.start();
      const take = Math.min(piece.length, CHUNK_SIZE - current.size);
      current.size += take;
      await current.channel.push(piece.subarray(0, take));
      piece = piece.subarray(take);
      if (current.size === CHUNK_SIZE) await this.seal();
    }
  }

  /** Ends the last chunk (an empty object still gets one) and waits for every write. */
  async finish(): Promise<{ id: string; size: number }[]> {
    if (this.current || this.written.length === 0) {
      this.current ??= this.start();
      await this.seal();
    }
    await Promise.all(this.inFlight);
    return this.written;
  }

  async abort(): Promise<void> {
    this.current?.channel.fail(new Error("upload aborted"));
    if (this.current) this.written.push(this.current);
    await Promise.allSettled(this.inFlight);
    await Promise.allSettled(this.written.map((c) => this.store.delete(c.id)));
  }

  private start(): { id: string; size: number; channel: ByteChannel } {
    const channel = new ByteChannel();
    const id = this.store.newId();
    const put = this.store.put(id, channel);
    // A failed write stops the upload at its next push; the rejection itself is awaited later.
    put.catch((err: Error) => channel.fail(err));
    this.inFlight.push(put);
    this.current = { id, size: 0, channel };
    return this.current;
  }

  private async seal(): Promise<void> {
    const { id, size, channel } = this.current!;
    channel.end();
    this.written.push({ id, size });
    this.current = undefined;
    // Past the limit, the oldest chunk must be durable before more of the body is taken.
    if (this.inFlight.length > MAX_CHUNKS_IN_FLIGHT) await this.inFlight.shift();
  }
}

/**
 * Pieces from a producer to one consumer (an async iterable), with
 * backpressure: `push` waits while more than CHANNEL_BYTES are queued.
 */
class ByteChannel implements AsyncIterable<Uint8Array> {
  private queue: Uint8Array[] = [];
  private queued = 0;
  private ended = false;
  private error?: Error;
  private wakeConsumer?: () => void;
  private wakeProducer?: () => void;

  async push(piece: Uint8Array): Promise<void> {
    if (this.error) throw this.error;
    this.queue.push(piece);
    this.queued += piece.length;
    this.wakeConsumer?.();
    while (this.queued > CHANNEL_BYTES && !this.error) await new Promise<void>((resolve) => (this.wakeProducer = resolve));
    if (this.error) throw this.error;
  }

  end(): void {
    this.ended = true;
    this.wakeConsumer?.();
  }

  fail(err: Error): void {
    this.error ??= err;
    this.wakeConsumer?.();
    this.wakeProducer?.();
  }

  async *[Symbol.asyncIterator](): AsyncGenerator<Uint8Array> {
    for (;;) {
      if (this.error) throw this.error;
      const piece = this.queue.shift();
      if (piece) {
        this.queued -= piece.length;
        if (this.queued <= CHANNEL_BYTES) this.wakeProducer?.();
        yield piece;
      } else if (this.ended) return;
      else await new Promise<void>((resolve) => (this.wakeConsumer = resolve));
    }
  }
}
