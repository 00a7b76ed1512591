import { afterEach, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync, truncateSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { buildImage } from "../qcow2/header.ts";
import { Qcow2Image } from "../qcow2/image.ts";
import { EXTENT_ZERO, type BlockBackend } from "./block-backend.ts";
import { RawBackend } from "./raw.ts";

const SIZE = 4 * 1024 * 1024;
const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

/** A deterministic PRNG so that a failure can be replayed. */
function rng(seed: number) {
  return () => {
    seed = (seed * 1664525 + 1013904223) >>> 0;
    return seed / 2 ** 32;
  };
}

interface Implementation {
  name: string;
  /** Opens a backend whose initial content equals `initial`. */
  open(dir: string, initial: Buffer): BlockBackend;
}

const implementations: Implementation[] = [
  {
    name: "raw",
    open(dir, initial) {
      const path = join(dir, "img.raw");
      writeFileSync(path, initial);
      return new RawBackend(path, false);
    },
  },
  {
    name: "qcow2",
    open(dir, initial) {
      const path = join(dir, "img.qcow2");
      writeFileSync(path, buildImage({ size: SIZE, clusterBits: 12 }));
      const image = new Qcow2Image(path, false);
      image.write(initial, 0, initial.length, 0);
      return image;
    },
  },
  {
    name: "qcow2 over a raw backing file",
    open(dir, initial) {
      const base = join(dir, "base.raw");
      writeFileSync(base, initial);
      const path = join(dir, "over.qcow2");
      writeFileSync(path, buildImage({ size: SIZE, clusterBits: 16, backingFile: "base.raw", backingFormat: "raw" }));
      return new Qcow2Image(path, false, () => new RawBackend(base, true));
    },
  },
];

/** One contract, run against every BlockBackend (STYLE.md: one suite per interface). */
for (const impl of implementations) {
  describe(`BlockBackend contract: ${impl.name}`, () => {
    const setup = (seed: number) => {
      const dir = mkdtempSync(join(tmpdir(), "contract-"));
      dirs.push(dir);
      const random = rng(seed);
      const model = Buffer.alloc(SIZE);
      for (let i = 0; i < SIZE; i += 4096) if (random() < 0.5) model.fill(Math.floor(random() * 255) + 1, i, i + 4096);
      return { dir, random, model, backend: impl.open(dir, Buffer.from(model)) };
    };

    test("random writes, zeroes and trims read back like an in-memory model", () => {
      const { random, model, backend } = setup(7);
      expect(backend.size).toBe(SIZE);
      for (let op = 0; op < 400; op++) {
        const offset = Math.floor(random() * (SIZE - 1));
        const length = 1 + Math.floor(random() * Math.min(200_000, SIZE - offset - 1));
        const kind = random();
        if (kind < 0.6) {
          const data = Buffer.alloc(length, op % 251);
          backend.write(data, 0, length, offset);
          data.copy(model, offset);
        } else if (kind < 0.8) {
          backend.writeZeroes(offset, length, { noHole: random() < 0.5, fast: false });
          model.fill(0, offset, offset + length);
        } else if (kind < 0.9) {
          // TRIM: only the content outside the range is defined afterwards; make the model agree by zero-writing it.
          backend.trim(offset, length);
          backend.writeZeroes(offset, length, { noHole: false, fast: false });
          model.fill(0, offset, offset + length);
        } else {
          backend.flush();
        }
        if (op % 50 === 0) {
          const got = Buffer.alloc(SIZE);
          backend.read(got, 0, SIZE, 0);
          expect(got.equals(model)).toBe(true);
        }
      }
      const got = Buffer.alloc(SIZE);
      backend.read(got, 0, SIZE, 0);
      expect(got.equals(model)).toBe(true);
      backend.close();
    });

    test("block status covers the request and marks zeroed ranges as zero", () => {
      const { backend } = setup(11);
      backend.writeZeroes(1024 * 1024, 1024 * 1024, { noHole: false, fast: false });
      const extents = backend.blockStatus(0, SIZE, 1000);
      expect(extents.reduce((sum, e) => sum + e.length, 0)).toBe(SIZE);
      let pos = 0;
      for (const e of extents) {
        if (pos >= 1024 * 1024 && pos + e.length <= 2 * 1024 * 1024) expect(e.flags & EXTENT_ZERO).toBe(EXTENT_ZERO);
        pos += e.length;
      }
      expect(backend.blockStatus(0, SIZE, 1)).toHaveLength(1);
      backend.close();
    });

    test("data survives close and reopen", () => {
      const { dir, model, backend } = setup(3);
      const data = Buffer.alloc(70_000, 0x5c);
      backend.write(data, 0, data.length, 12_345);
      data.copy(model, 12_345);
      backend.close();
      const reopened =
        impl.name === "raw"
          ? new RawBackend(join(dir, "img.raw"), true)
          : impl.name === "qcow2"
            ? new Qcow2Image(join(dir, "img.qcow2"), true)
            : new Qcow2Image(join(dir, "over.qcow2"), true, () => new RawBackend(join(dir, "base.raw"), true));
      const got = Buffer.alloc(SIZE);
      reopened.read(got, 0, SIZE, 0);
      expect(got.equals(model)).toBe(true);
      reopened.close();
    });
  });
}

test("raw files shorter than their volume read as zeros past the end", () => {
  const dir = mkdtempSync(join(tmpdir(), "contract-"));
  dirs.push(dir);
  const path = join(dir, "short.raw");
  writeFileSync(path, Buffer.alloc(8192, 1));
  const backend = new RawBackend(path, true);
  truncateSync(path, 4096);
  const got = Buffer.alloc(8192, 0xff);
  backend.read(got, 0, 8192, 0);
  expect(got.subarray(4096).equals(Buffer.alloc(4096))).toBe(true);
  backend.close();
});
