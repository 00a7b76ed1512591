import { describe, expect, test } from "bun:test";
import { randomBytes } from "node:crypto";
import { crc32Combine, crc32OfBlocks, crc32Shift } from "./crc32-combine.ts";

const crc = (data: Uint8Array) => Bun.hash.crc32(data) >>> 0;

describe("CRC32 combination", () => {
  test("CRC32(A‖B) from the CRC32s of A and B, for lengths from 0 to over a block", () => {
    for (const [a, b] of [[0, 0], [1, 0], [0, 1], [5, 3], [100, 65536], [65536, 65535], [70000, 1]]) {
      const data = randomBytes(a! + b!);
      expect(crc32Combine(crc(data.subarray(0, a)), crc(data.subarray(a)), crc32Shift(b!))).toBe(crc(data));
    }
  });

  test("a chunk's CRC32 from its blocks' CRC32s, a short last block included", () => {
    for (const size of [0, 1, 65536, 3 * 65536, 3 * 65536 + 777]) {
      const data = randomBytes(size);
      const crcs = Array.from({ length: Math.ceil(size / 65536) }, (_, i) => crc(data.subarray(i * 65536, (i + 1) * 65536)));
      expect(crc32OfBlocks(crcs, 65536, size)).toBe(crc(data));
    }
  });
});
