import type { ChunkStore } from "../chunks/chunk-store.ts";
import { CHUNK_SIZE, MAX_CHUNKS_IN_FLIGHT } from "./context.ts";

/**
 * Cuts a stream of pieces into chunks of CHUNK_SIZE and stores them, a few
 * concurrently while more pieces arrive. `finish` waits for every write;
 * `abort` waits too, then deletes whatever was written.
 */
export class ChunkWriter {
  readonly written: { id: string; size: number }[] = [];
  private readonly inFlight: Promise<unknown>[] = [];
  private pieces: Uint8Array[] = [];
  private buffered = 0;

  constructor(private readonly store: ChunkStore) {}

  async push(piece: Uint8Array): Promise<void> {
    while (piece.length > 0) {
      const take = Math.min(piece.length, CHUNK_SIZE - this.buffered);
      this.pieces.push(piece.subarray(0, take));
      this.buffered += take;
      piece = piece.subarray(take);
      if (this.buffered === CHUNK_SIZE) await this.flush();
    }
  }

  private async flush(): Promise<void> {
    const id = crypto.randomUUID();
    this.written.push({ id, size: this.buffered });
    const put = this.store.put(id, this.pieces);
    put.catch(() => {}); // awaited later; this only keeps an early failure from counting as unhandled
    this.inFlight.push(put);
    this.pieces = [];
    this.buffered = 0;
    // Past the limit, the oldest write must finish before more of the body is taken.
    if (this.inFlight.length >= MAX_CHUNKS_IN_FLIGHT) await this.inFlight.shift();
  }

  /** Stores the last partial chunk (an empty object still gets one) and waits for every write. */
  async finish(): Promise<{ id: string; size: number }[]> {
    if (this.buffered > 0 || this.written.length === 0) await this.flush();
    await Promise.all(this.inFlight);
    return this.written;
  }

  async abort(): Promise<void> {
    await Promise.allSettled(this.inFlight);
    await Promise.allSettled(this.written.map((c) => this.store.delete(c.id)));
  }
}
