import { ftruncateSync, write } from "node:fs";
import { promisify } from "node:util";
import type { NbdClient } from "./client.ts";
import { STATE_ZERO } from "./protocol.ts";

const writeAt = promisify(write);

/** Bytes one block-status query asks about. */
const STATUS_WINDOW = 256 * 1024 * 1024;
/** Bytes one READ asks for. */
const READ_BYTES = 1024 * 1024;
/** READs in flight at once. */
const READS_IN_FLIGHT = 8;

/**
 * Copies an export into the file `fd`: the file is sized to the export, and
 * only the ranges that base:allocation does not report as reading zeros are
 * read — in 1 MiB requests, several in flight — and written at their offsets,
 * so holes stay holes. The caller makes the file durable. Returns the bytes copied.
 * `onProgress` hears how much of the export is done: copied, or skipped as zeros.
 */
export async function copyExport(client: NbdClient, fd: number, onProgress?: (doneBytes: number) => void): Promise<number> {
  ftruncateSync(fd, client.size);
  let copied = 0;
  let skipped = 0;
  const ranges = dataRanges(client, (length) => {
    skipped += length;
    onProgress?.(copied + skipped);
  });
  await Promise.all(
    Array.from({ length: READS_IN_FLIGHT }, async () => {
      const buffer = Buffer.allocUnsafe(READ_BYTES); // each reader's own, reused: no garbage per MiB
      // The generator hands each range to one reader (concurrent next() calls queue).
      for (let next = await ranges.next(); !next.done; next = await ranges.next()) {
        const [offset, length] = next.value;
        const data = await client.read(offset, length, buffer);
        // On the thread pool: the next replies are taken in meanwhile.
        for (let done = 0; done < length; ) done += (await writeAt(fd, data, done, length - done, offset + done)).bytesWritten;
        copied += length;
        onProgress?.(copied + skipped);
      }
    }),
  );
  return copied;
}

/** [offset, length] pieces of the export that may hold data, in order; `skip` hears of each run of zeros passed over. */
async function* dataRanges(client: NbdClient, skip: (length: number) => void): AsyncGenerator<[number, number]> {
  for (let offset = 0; offset < client.size; ) {
    const window = Math.min(STATUS_WINDOW, client.size - offset);
    const extents = client.baseAllocation ? await client.blockStatus(offset, window) : [{ length: window, flags: 0 }];
    const start = offset;
    for (const extent of extents) {
      const length = Math.min(extent.length, client.size - offset);
      if (length <= 0) break;
      if ((extent.flags & STATE_ZERO) === 0) {
        for (let at = offset; at < offset + length; at += READ_BYTES) yield [at, Math.min(READ_BYTES, offset + length - at)];
      } else {
        skip(length);
      }
      offset += length;
    }
    if (offset === start) throw new Error(`block status at ${offset} described nothing`);
  }
}
