import { describe, expect, test } from "bun:test";
import { randomBytes } from "node:crypto";
import { decodeFrames, encodeFrames, FRAME_HEADER_SIZE, FrameEncoder, FrameError } from "./chain-frames.ts";
import { BLOCK_SIZE } from "./chunk-file.ts";

/** Decodes `pieces`, returning the data bytes of the frames it yielded before it ended or threw. */
async function decode(pieces: Uint8Array[]): Promise<{ data: Buffer; error?: Error }> {
  const out: Uint8Array[] = [];
  try {
    for await (const frame of decodeFrames(pieces)) out.push(...frame.parts);
    return { data: Buffer.concat(out) };
  } catch (err) {
    return { data: Buffer.concat(out), error: err as Error };
  }
}

/** `bytes` cut into pieces of `size`. */
const cut = (bytes: Uint8Array, size: number) => Array.from({ length: Math.ceil(bytes.length / size) }, (_, i) => bytes.subarray(i * size, (i + 1) * size));

describe("chained PUT frames", () => {
  test("a chunk encoded from pieces of any size decodes to the same bytes, whatever the cuts on the way", async () => {
    const data = randomBytes(3 * BLOCK_SIZE + 1234);
    const encoder = new FrameEncoder();
    const frames = [...cut(data, 7777).flatMap((p) => encoder.push(p)), ...encoder.end()];
    expect(encoder.size).toBe(data.length);
    const wire = Buffer.concat(frames);
    expect(wire.length).toBe(data.length + 5 * FRAME_HEADER_SIZE);
    for (const size of [1, 5, 8, 1000, BLOCK_SIZE + 3, wire.length]) expect((await decode(cut(wire, size))).data.equals(data)).toBe(true);
    expect((await decode(encodeFrames(new Uint8Array(0)))).data.length).toBe(0);
  });

  test("a damaged block is refused before any of its bytes are passed on", async () => {
    const data = randomBytes(2 * BLOCK_SIZE + 10);
    const wire = Buffer.concat(encodeFrames(data));
    wire[FRAME_HEADER_SIZE * 2 + BLOCK_SIZE + 100]! ^= 0x40; // in the second block
    const { data: passed, error } = await decode(cut(wire, 4096));
    expect(error).toBeInstanceOf(FrameError);
    expect(error!.message).toContain("block 1");
    expect(passed.equals(data.subarray(0, BLOCK_SIZE))).toBe(true);
  });

  test("a wrong end CRC, a short body, trailing bytes and misplaced short frames are refused", async () => {
    const data = randomBytes(BLOCK_SIZE + 10);
    const wire = Buffer.concat(encodeFrames(data));
    const badEnd = Buffer.from(wire);
    badEnd.writeUInt32BE((badEnd.readUInt32BE(badEnd.length - 4) ^ 1) >>> 0, badEnd.length - 4);
    expect((await decode([badEnd])).error?.message).toContain("end frame");
    expect((await decode([wire.subarray(0, wire.length - 3)])).error?.message).toContain("before its end frame");
    expect((await decode([wire, Buffer.from([0])])).error?.message).toContain("after the end frame");
    const short = Buffer.concat([...encodeFrames(data.subarray(0, 10)).slice(0, 2), ...encodeFrames(data.subarray(0, 10))]);
    expect((await decode([short])).error).toBeInstanceOf(FrameError);
  });
});
