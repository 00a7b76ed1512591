import { describe, expect, test } from "bun:test";
import { closeSync, fstatSync, mkdtempSync, openSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { writeSparse } from "./sparse-write.ts";

async function* chunks(...parts: Uint8Array[]) {
  yield* parts;
}

describe("sparse image writes", () => {
  test("zero blocks become holes, data lands at its offset, the length is the stream's", async () => {
    const dir = mkdtempSync(join(tmpdir(), "photon-sparse-"));
    const path = join(dir, "image");
    const fd = openSync(path, "w+");
    try {
      const data = Buffer.alloc(100_000, 0xab);
      const zeros = Buffer.alloc(8 * 1024 * 1024);
      // Uneven chunk boundaries: a block split across chunks, data straddling a block edge.
      const length = await writeSparse(fd, chunks(zeros.subarray(0, 70_000), data, zeros, zeros.subarray(0, 1234)), 2 ** 30);
      expect(length).toBe(70_000 + data.length + zeros.length + 1234);
      expect(fstatSync(fd).size).toBe(length);
      expect(fstatSync(fd).blocks * 512).toBeLessThan(1024 * 1024);
      const back = readFileSync(path);
      expect(back.subarray(70_000, 170_000).equals(data)).toBe(true);
      expect(back.subarray(0, 70_000).every((b) => b === 0)).toBe(true);
      expect(back.subarray(170_000).every((b) => b === 0)).toBe(true);
      await expect(writeSparse(fd, chunks(data), 1000)).rejects.toThrow("larger than 1000 bytes");
    } finally {
      closeSync(fd);
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
