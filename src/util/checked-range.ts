/**
 * Bytes a reader does not pass on until the whole source passed its CRC32
 * check: a corrupt source ends a response short, never a whole wrong one.
 * Used alike by streamed copies and by file bodies sent with sendfile.
 */
export const CHECK_HOLD_BYTES = 64 * 1024;

/**
 * Bytes [from, to) of `source`, whose CRC32 over all of its bytes must be
 * `crc32`. The range's last CHECK_HOLD_BYTES wait for the check: on a mismatch
 * they are never yielded and `mismatch()` is thrown instead.
 */
export async function* checkedRange(source: AsyncIterable<Uint8Array>, from: number, to: number, crc32: number, mismatch: () => Error): AsyncGenerator<Uint8Array> {
  const held: Uint8Array[] = [];
  let heldBytes = 0;
  let crc = 0;
  let at = 0;
  for await (const piece of source) {
    crc = Bun.hash.crc32(piece, crc);
    const start = Math.max(from - at, 0);
    const end = Math.min(to - at, piece.length);
    at += piece.length;
    if (end > start) {
      held.push(piece.subarray(start, end));
      heldBytes += end - start;
    }
    while (held.length > 0 && heldBytes - held[0]!.length >= CHECK_HOLD_BYTES) {
      const out = held.shift()!;
      heldBytes -= out.length;
      yield out;
    }
  }
  if (crc >>> 0 !== crc32 >>> 0) throw mismatch();
  yield* held;
}
