/**
 * The CRC32s (IEEE, as Bun.hash.crc32) of a source's bytes, block by block:
 * block i is bytes [i × blockSize, min((i + 1) × blockSize, size)). A source
 * checked whole is one block as large as the source (`wholeChecksum`).
 */
export interface BlockChecksums {
  size: number;
  blockSize: number;
  crcs: ArrayLike<number>;
}

/** A source checked as one block: nothing of it is passed on before all of it matched. */
export function wholeChecksum(size: number, crc32: number): BlockChecksums {
  return { size, blockSize: Math.max(size, 1), crcs: size === 0 ? [] : [crc32 >>> 0] };
}

/** The CRC32 of each `blockSize` block of `data`. */
export function blockCrcs(data: Uint8Array, blockSize: number): Uint32Array {
  const crcs = new Uint32Array(Math.ceil(data.length / blockSize));
  for (let i = 0; i < crcs.length; i++) crcs[i] = Bun.hash.crc32(data.subarray(i * blockSize, (i + 1) * blockSize)) >>> 0;
  return crcs;
}

/** Where block `index` of `sums` ends. */
export function blockEnd(sums: BlockChecksums, index: number): number {
  return Math.min((index + 1) * sums.blockSize, sums.size);
}

/** The start of the block holding byte `offset`. */
export function blockStart(sums: BlockChecksums, offset: number): number {
  return Math.floor(offset / sums.blockSize) * sums.blockSize;
}

/** A block whose bytes do not match its CRC32, or a source that ended inside one. */
export class BlockCheckError extends Error {
  constructor(
    /** Where the damaged (or missing) block starts: everything before it was passed on. */
    readonly offset: number,
    /** True when the block's bytes do not match; false when the source ended inside it. */
    readonly damaged: boolean,
    detail: string,
  ) {
    super(detail);
    this.name = "BlockCheckError";
  }
}

/**
 * Bytes [from, to) of a source that starts at byte `start` (a block boundary
 * at or before `from`), each block passed on only once its CRC32 matched: a
 * damaged block throws BlockCheckError before any of its bytes are yielded, so
 * a reader can take the rest from another copy, starting at the byte it got
 * to. A source that ends early throws the same way.
 */
export async function* verifiedBlocks(source: AsyncIterable<Uint8Array>, sums: BlockChecksums, start: number, from: number, to: number): AsyncGenerator<Uint8Array> {
  if (from >= to) return;
  if (start % sums.blockSize !== 0 || start > from || to > sums.size) throw new RangeError(`cannot check [${from}, ${to}) from ${start} in blocks of ${sums.blockSize} over ${sums.size} bytes`);
  let index = start / sums.blockSize;
  let at = start; // the start of the block being gathered
  let end = blockEnd(sums, index);
  let held: Uint8Array[] = [];
  let fill = 0;
  let crc = 0;
  for await (const piece of source) {
    let rest = piece;
    while (rest.length > 0) {
      const take = Math.min(end - at - fill, rest.length);
      const part = rest.subarray(0, take);
      rest = rest.subarray(take);
      crc = Bun.hash.crc32(part, crc);
      held.push(part);
      fill += take;
      if (at + fill < end) continue;
      if (crc >>> 0 !== sums.crcs[index]! >>> 0) throw new BlockCheckError(at, true, `block ${index} (bytes ${at}-${end - 1}) does not match its checksum`);
      yield* slices(held, at, from, to);
      if (end >= to) return;
      held = [];
      fill = 0;
      crc = 0;
      at = end;
      end = blockEnd(sums, ++index);
    }
  }
  throw new BlockCheckError(at, false, `the source ended at byte ${at + fill}, before ${to}`);
}

/** The parts of `pieces` (which start at `at`) that lie in [from, to). */
function* slices(pieces: Uint8Array[], at: number, from: number, to: number): Generator<Uint8Array> {
  for (const piece of pieces) {
    const start = Math.max(from - at, 0);
    const end = Math.min(to - at, piece.length);
    if (end > start) yield start === 0 && end === piece.length ? piece : piece.subarray(start, end);
    at += piece.length;
  }
}
