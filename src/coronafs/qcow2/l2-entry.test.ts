import { describe, expect, test } from "bun:test";
import { compressedExtent, decodeL2Entry, encodeL1Entry, encodeL2Entry, l1EntryOffset } from "./l2-entry.ts";

const cs = 65536;
const fileEnd = 2 ** 40;

describe("qcow2 L1/L2 entries", () => {
  test("a data cluster entry round-trips, offsets above 4 GiB included, with COPIED set", () => {
    for (const host of [cs, 7 * cs, 2 ** 32, 2 ** 39 + 3 * cs]) {
      const [hi, lo] = encodeL2Entry(host, false);
      expect(hi & 0x8000_0000).not.toBe(0);
      expect(decodeL2Entry(hi, lo, 3, cs, fileEnd)).toEqual({ kind: "data", host, copied: true });
    }
  });

  test("host 0 is unallocated, or zeros with the zero flag in version 3 only", () => {
    const [hi, lo] = encodeL2Entry(0, false);
    expect([hi, lo]).toEqual([0, 0]);
    expect(decodeL2Entry(hi, lo, 3, cs, fileEnd)).toEqual({ kind: "unallocated" });
    const [zhi, zlo] = encodeL2Entry(0, true);
    expect(decodeL2Entry(zhi, zlo, 3, cs, fileEnd)).toEqual({ kind: "zero", host: 0, copied: false });
    // Version 2 has no zero flag: the bit is ignored.
    expect(decodeL2Entry(zhi, zlo, 2, cs, fileEnd)).toEqual({ kind: "unallocated" });
    const [phi, plo] = encodeL2Entry(5 * cs, true);
    expect(decodeL2Entry(phi, plo, 3, cs, fileEnd)).toEqual({ kind: "zero", host: 5 * cs, copied: true });
  });

  test("reserved bits, misaligned clusters and clusters past the end are refused", () => {
    expect(() => decodeL2Entry(0x0100_0000, cs, 3, cs, fileEnd)).toThrow("reserved bits");
    expect(() => decodeL2Entry(0x8000_0000, cs + 512, 3, cs, fileEnd)).toThrow("misaligned");
    expect(() => decodeL2Entry(0x8000_0000, 4 * cs, 3, cs, 4 * cs)).toThrow("beyond the end of the file");
  });

  test("a compressed entry keeps its raw halves and locates its bytes", () => {
    // 64 KiB clusters: x = 62 - 8 = 54 bits of offset, then the additional sector count.
    const host = 3 * cs + 1000;
    const sectors = 4; // 5 sectors in all, counted from the sector the data starts in
    const entry = (1n << 62n) | (BigInt(sectors) << 54n) | BigInt(host);
    const hi = Number(entry >> 32n);
    const lo = Number(entry & 0xffff_ffffn);
    expect(decodeL2Entry(hi, lo, 3, cs, fileEnd)).toEqual({ kind: "compressed", entryHi: hi, entryLo: lo });
    expect(compressedExtent(hi, lo, 16)).toEqual({ host, bytes: 5 * 512 - (host % 512) });
  });

  test("an L1 entry points at its L2 table", () => {
    for (const offset of [cs, 2 ** 33 + cs]) {
      const [hi, lo] = encodeL1Entry(offset);
      expect(l1EntryOffset(hi, lo)).toBe(offset);
    }
    expect(l1EntryOffset(0, 0)).toBe(0);
  });
});
