import type { Logger } from "../../util/log.ts";

/**
 * The chunks responses are being sent from. A chunk that an overwrite or a
 * delete releases while a GET still sends it is removed only when the last
 * such reader is done, so a reader during an overwrite gets the whole old
 * object. (A crash in between leaves it unreferenced: the sweep at start
 * removes it.)
 */
export class ChunkReaders {
  private readonly readers = new Map<string, number>();
  private readonly doomed = new Map<string, () => Promise<unknown>>();

  constructor(private readonly log: Logger) {}

  /** Marks the chunks as being read; call the returned function once, when done. */
  hold(ids: string[]): () => void {
    for (const id of ids) this.readers.set(id, (this.readers.get(id) ?? 0) + 1);
    let released = false;
    return () => {
      if (released) return;
      released = true;
      for (const id of ids) {
        const left = this.readers.get(id)! - 1;
        if (left > 0) {
          this.readers.set(id, left);
          continue;
        }
        this.readers.delete(id);
        const remove = this.doomed.get(id);
        this.doomed.delete(id);
        remove?.().catch((err: unknown) => this.log.warn("chunk not deleted; it will be collected later", { error: String(err) }));
      }
    };
  }

  /** Runs `remove` now, or once the chunk's last reader is done. */
  async delete(id: string, remove: () => Promise<unknown>): Promise<void> {
    if (this.readers.has(id)) this.doomed.set(id, remove);
    else await remove();
  }
}
