import { ftruncateSync } from "node:fs";
import { writeFully } from "../../util/fs.ts";
import { VolumeError } from "./errors.ts";

/** Granularity at which runs of zeros are left as holes. */
const BLOCK = 64 * 1024;
const zeros = Buffer.alloc(BLOCK);

/**
 * Streams `body` into the new, empty file `fd`, leaving every all-zero piece
 * of each 64 KiB block unwritten (a hole), then sets the file's length: a raw
 * image of mostly zeros stays sparse on disk, and a later materialize finds
 * the holes. Refuses a stream longer than `limit` bytes. Returns its length.
 */
export async function writeSparse(fd: number, body: AsyncIterable<Uint8Array>, limit: number): Promise<number> {
  let position = 0;
  for await (const chunk of body) {
    if (position + chunk.length > limit) throw VolumeError.invalid("body", `image larger than ${limit} bytes`);
    /** Start (in `chunk`) of the data not written yet, -1 when there is none. */
    let run = -1;
    for (let at = 0; at < chunk.length; ) {
      const end = Math.min(chunk.length, at + BLOCK - ((position + at) % BLOCK));
      if (isZero(chunk, at, end)) {
        if (run >= 0) writeFully(fd, chunk, run, at - run, position + run);
        run = -1;
      } else if (run < 0) run = at;
      at = end;
    }
    if (run >= 0) writeFully(fd, chunk, run, chunk.length - run, position + run);
    position += chunk.length;
  }
  ftruncateSync(fd, position);
  return position;
}

function isZero(data: Uint8Array, from: number, to: number): boolean {
  return Buffer.from(data.buffer, data.byteOffset + from, to - from).equals(zeros.subarray(0, to - from));
}
