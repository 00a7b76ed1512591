import { describe, expect, test } from "bun:test";
import { BlockCheckError, blockCrcs, blockStart, verifiedBlocks, wholeChecksum, type BlockChecksums } from "./checked-range.ts";

const data = Buffer.from(Array.from({ length: 300_000 }, (_, i) => i % 251));
const BLOCK = 65536;
const sums: BlockChecksums = { size: data.length, blockSize: BLOCK, crcs: blockCrcs(data, BLOCK) };

async function* pieces(source: Uint8Array, step: number) {
  for (let at = 0; at < source.length; at += step) yield source.subarray(at, at + step);
}
async function collect(source: AsyncIterable<Uint8Array>): Promise<{ bytes: Buffer; err?: unknown }> {
  const out: Uint8Array[] = [];
  try {
    for await (const piece of source) out.push(piece);
    return { bytes: Buffer.concat(out) };
  } catch (err) {
    return { bytes: Buffer.concat(out), err };
  }
}

describe("verifiedBlocks", () => {
  test("yields exactly the range asked for, whatever the pieces' sizes, from any block boundary before it", async () => {
    for (const step of [1000, 65536, 300_000]) {
      for (const [from, to] of [[0, data.length], [1000, 250_000], [299_990, 300_000], [5, 6], [65536, 131072]] as const) {
        const start = blockStart(sums, from);
        const { bytes, err } = await collect(verifiedBlocks(pieces(data.subarray(start), step), sums, start, from, to));
        expect(err).toBeUndefined();
        expect(bytes.equals(data.subarray(from, to))).toBe(true);
      }
    }
  });

  test("a damaged block is never yielded: the range ends where the block starts, and the error says where", async () => {
    const damaged = Buffer.from(data);
    damaged[200_000] = damaged[200_000]! ^ 0xff;
    const { bytes, err } = await collect(verifiedBlocks(pieces(damaged, 4096), sums, 0, 1000, data.length));
    expect(err).toBeInstanceOf(BlockCheckError);
    expect((err as BlockCheckError).offset).toBe(3 * BLOCK);
    expect(bytes.equals(data.subarray(1000, 3 * BLOCK))).toBe(true);
  });

  test("a source that ends early is an error at the block it stopped in", async () => {
    const { bytes, err } = await collect(verifiedBlocks(pieces(data.subarray(0, 100_000), 4096), sums, 0, 0, data.length));
    expect((err as BlockCheckError).offset).toBe(BLOCK);
    expect(bytes.length).toBe(BLOCK);
  });

  test("a source checked whole yields nothing unless all of it matches", async () => {
    const whole = wholeChecksum(data.length, Bun.hash.crc32(data));
    expect((await collect(verifiedBlocks(pieces(data, 4096), whole, 0, 10, 20))).bytes.equals(data.subarray(10, 20))).toBe(true);
    const bad = await collect(verifiedBlocks(pieces(data, 4096), wholeChecksum(data.length, 1), 0, 0, data.length));
    expect(bad.err).toBeInstanceOf(BlockCheckError);
    expect(bad.bytes.length).toBe(0);
  });
});
