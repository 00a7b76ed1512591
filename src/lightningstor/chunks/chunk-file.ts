import { fstatSync, readSync } from "node:fs";
import { type BlockChecksums, wholeChecksum } from "../../util/checked-range.ts";
import { ChunkCorruptError } from "./chunk-store.ts";

/**
 * The layout of a chunk file: the chunk's bytes, then (format 2) the CRC32 of
 * each BLOCK_SIZE block, then a 16-byte footer whose magic names the format.
 *
 *   format 1 (`PHTNCHK1`): data | magic, CRC32 of the data (BE), 4 reserved bytes
 *   format 2 (`PHTNCHK2`): data | block CRC32s (BE) | magic, CRC32 of the data (BE), block count (BE)
 *
 * Format 1 chunks (written before per-block checksums) are read as one block:
 * verified whole before any of their bytes are sent. New chunks are format 2.
 */
export const FOOTER_SIZE = 16;
/** Bytes per checksummed block in format 2: a damaged block is found before any of it is sent. */
export const BLOCK_SIZE = 64 * 1024;
const MAGIC_V1 = Buffer.from("PHTNCHK1");
const MAGIC_V2 = Buffer.from("PHTNCHK2");

/** What a chunk file's tail says: the data's size and CRC32, and its block checksums. */
export interface ChunkLayout {
  size: number;
  crc32: number;
  blocks: BlockChecksums;
}

/** The block table and footer that follow a chunk's data in format 2. */
export function chunkTrailer(crc32: number, blockCrcs: ArrayLike<number>): Buffer {
  const trailer = Buffer.alloc(blockCrcs.length * 4 + FOOTER_SIZE);
  for (let i = 0; i < blockCrcs.length; i++) trailer.writeUInt32BE(blockCrcs[i]! >>> 0, i * 4);
  const footer = blockCrcs.length * 4;
  MAGIC_V2.copy(trailer, footer);
  trailer.writeUInt32BE(crc32 >>> 0, footer + 8);
  trailer.writeUInt32BE(blockCrcs.length, footer + 12);
  return trailer;
}

/**
 * A chunk file's size and CRC32 from its footer (the block table is read only
 * with `withBlocks`). Throws ChunkCorruptError for a footer no format knows.
 */
export function readLayout(id: string, fd: number, withBlocks: boolean): ChunkLayout {
  return decodeLayout(id, fstatSync(fd).size, withBlocks, (length, position) => {
    const bytes = Buffer.alloc(length);
    readSync(fd, bytes, 0, length, position);
    return bytes;
  });
}

/** The layout of a whole chunk file held in memory. */
export function parseLayout(id: string, file: Buffer): ChunkLayout {
  return decodeLayout(id, file.length, true, (length, position) => file.subarray(position, position + length));
}

function decodeLayout(id: string, total: number, withBlocks: boolean, read: (length: number, position: number) => Buffer): ChunkLayout {
  if (total < FOOTER_SIZE) throw new ChunkCorruptError(id, "file shorter than its footer");
  const footer = read(FOOTER_SIZE, total - FOOTER_SIZE);
  const magic = footer.subarray(0, 8);
  const crc32 = footer.readUInt32BE(8);
  if (magic.equals(MAGIC_V1)) {
    const size = total - FOOTER_SIZE;
    return { size, crc32, blocks: wholeChecksum(size, crc32) };
  }
  if (!magic.equals(MAGIC_V2)) throw new ChunkCorruptError(id, "bad footer");
  const count = footer.readUInt32BE(12);
  const size = total - FOOTER_SIZE - count * 4;
  if (size < 0 || count !== Math.ceil(size / BLOCK_SIZE)) throw new ChunkCorruptError(id, `footer counts ${count} blocks in a file of ${total} bytes`);
  const crcs = new Uint32Array(withBlocks ? count : 0);
  if (withBlocks && count > 0) {
    const table = read(count * 4, size);
    for (let i = 0; i < count; i++) crcs[i] = table.readUInt32BE(i * 4);
  }
  return { size, crc32, blocks: { size, blockSize: BLOCK_SIZE, crcs } };
}
