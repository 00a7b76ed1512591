import { describe, expect, test } from "bun:test";
import { CHECK_HOLD_BYTES, checkedRange } from "./checked-range.ts";

const data = Buffer.from(Array.from({ length: 300_000 }, (_, i) => i % 251));
const crc = Bun.hash.crc32(data) >>> 0;
async function* pieces(step: number) {
  for (let at = 0; at < data.length; at += step) yield data.subarray(at, at + step);
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

describe("checkedRange", () => {
  test("yields exactly the range asked for, whatever the pieces' sizes", async () => {
    for (const step of [1000, 65536, 300_000]) {
      for (const [from, to] of [[0, data.length], [1000, 250_000], [299_990, 300_000], [5, 6]] as const) {
        const { bytes, err } = await collect(checkedRange(pieces(step), from, to, crc, () => new Error("mismatch")));
        expect(err).toBeUndefined();
        expect(bytes.equals(data.subarray(from, to))).toBe(true);
      }
    }
  });

  test("a source that fails its check ends the range short by at least the held-back bytes", async () => {
    const { bytes, err } = await collect(checkedRange(pieces(4096), 0, data.length, crc ^ 1, () => new Error("mismatch")));
    expect(String(err)).toContain("mismatch");
    expect(bytes.length).toBeLessThanOrEqual(data.length - CHECK_HOLD_BYTES);
    expect(bytes.equals(data.subarray(0, bytes.length))).toBe(true);
  });
});
