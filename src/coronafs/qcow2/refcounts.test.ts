import { describe, expect, test } from "bun:test";
import { closeSync, mkdtempSync, openSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { readRefcount, Refcounts, writeRefcount } from "./refcounts.ts";

describe("qcow2 refcount blocks", () => {
  test("every refcount width (1 to 64 bits) stores each entry apart from its neighbours", () => {
    for (let order = 0; order <= 6; order++) {
      const bits = 2 ** order;
      const block = Buffer.alloc(512);
      const entries = (512 * 8) / bits;
      const max = 2 ** Math.min(bits, 52) - 1;
      for (let i = 0; i < entries; i++) writeRefcount(block, i, bits, i % 3 === 0 ? max : i % 2);
      for (let i = 0; i < entries; i++) expect(readRefcount(block, i, bits)).toBe(i % 3 === 0 ? max : i % 2);
    }
  });

  test("sub-byte refcounts fill each byte from its least significant bits", () => {
    const block = Buffer.alloc(1);
    writeRefcount(block, 0, 2, 1);
    writeRefcount(block, 3, 2, 2);
    expect(block[0]).toBe(0b1000_0001);
  });

  test("setting a refcount beyond the existing blocks appends a block that counts itself", () => {
    const dir = mkdtempSync(join(tmpdir(), "photon-refcounts-"));
    const fd = openSync(join(dir, "image"), "w+");
    try {
      const cs = 512;
      let end = 4 * cs;
      const table = Buffer.alloc(cs); // no refcount block yet
      const refcounts = new Refcounts(fd, cs, 4, table, cs, () => ((end += cs), end - cs), (offset) => offset + cs <= end);
      refcounts.set(3 * cs, 1);
      const block = Number(table.readBigUInt64BE(0));
      expect(block).toBe(4 * cs);
      expect(refcounts.get(block)).toBe(1);
      expect(refcounts.get(3 * cs)).toBe(1);
      expect(refcounts.get(2 * cs)).toBe(0);
      expect(refcounts.dirty).toBe(true);
      refcounts.writeBack();
      expect(refcounts.dirty).toBe(false);
      expect(() => refcounts.set(cs, 2 ** 16)).toThrow("refcount overflow");
    } finally {
      closeSync(fd);
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
