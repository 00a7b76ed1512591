import { Qcow2FormatError } from "./header.ts";

/**
 * L1 and L2 table entries (qcow2.txt "Cluster mapping"): pure codecs over
 * the two 32-bit halves of a big-endian 64-bit entry, so the hot path needs
 * no BigInt.
 */

const HI_COPIED = 0x8000_0000;
const HI_COMPRESSED = 0x4000_0000;
const HI_RESERVED = 0x3f00_0000; // bits 56-61 of a standard entry
const LO_ZERO = 0x1;
const LO_OFFSET_MASK = 0xffff_fe00;
const HI_OFFSET_MASK = 0x00ff_ffff;

/** What one guest cluster maps to. */
export type Mapping =
  | { kind: "unallocated" }
  | { kind: "zero"; host: number; copied: boolean }
  | { kind: "data"; host: number; copied: boolean }
  | { kind: "compressed"; entryHi: number; entryLo: number };

/** The host offset an L1 entry points at (0: no L2 table). */
export function l1EntryOffset(hi: number, lo: number): number {
  return (hi & HI_OFFSET_MASK) * 2 ** 32 + (lo & LO_OFFSET_MASK);
}

/** The halves of an L1 entry pointing at an L2 table at `offset` (refcount 1: COPIED). */
export function encodeL1Entry(offset: number): [hi: number, lo: number] {
  return [(HI_COPIED | Math.floor(offset / 2 ** 32)) >>> 0, offset % 2 ** 32];
}

/**
 * Decodes a standard or compressed L2 entry of a `version` image; refuses
 * reserved bits and data clusters outside `[0, fileEnd)` (the allocated area).
 */
export function decodeL2Entry(hi: number, lo: number, version: 2 | 3, clusterSize: number, fileEnd: number): Mapping {
  if (hi & HI_COMPRESSED) return { kind: "compressed", entryHi: hi, entryLo: lo };
  if (hi & HI_RESERVED) throw new Qcow2FormatError("L2 entry has reserved bits set");
  const host = (hi & HI_OFFSET_MASK) * 2 ** 32 + (lo & LO_OFFSET_MASK);
  const copied = (hi & HI_COPIED) !== 0;
  // The zero flag exists from version 3 on; in version 2 it is reserved and ignored.
  if (lo & LO_ZERO && version === 3) return { kind: "zero", host, copied };
  if (host === 0) return { kind: "unallocated" };
  if (host % clusterSize !== 0 || host + clusterSize > fileEnd) {
    throw new Qcow2FormatError(`data cluster at ${host} is misaligned or beyond the end of the file`);
  }
  return { kind: "data", host, copied };
}

/** The halves of a standard L2 entry: `host` 0 with `zero` is "reads as zeros", without it "unallocated". */
export function encodeL2Entry(host: number, zero: boolean): [hi: number, lo: number] {
  const hi = host === 0 ? 0 : (HI_COPIED | Math.floor(host / 2 ** 32)) >>> 0;
  return [hi, ((host % 2 ** 32) | (zero ? LO_ZERO : 0)) >>> 0];
}

/** Where a compressed cluster's bytes are (qcow2.txt "Compressed Clusters Descriptor"). */
export function compressedExtent(hi: number, lo: number, clusterBits: number): { host: number; bytes: number } {
  const entry = (BigInt(hi) << 32n) | BigInt(lo);
  const x = BigInt(62 - (clusterBits - 8));
  const host = Number(entry & ((1n << x) - 1n));
  const sectors = Number((entry >> x) & ((1n << (62n - x)) - 1n));
  return { host, bytes: (sectors + 1) * 512 - (host % 512) };
}
