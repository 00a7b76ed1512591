import { closeSync, openSync, readSync } from "node:fs";
import { BlockError } from "../backend/block-error.ts";

/**
 * qcow2 header: parse, validate and build (qemu docs/interop/qcow2.txt,
 * "Header" and "Header extensions"). Everything an image claims is checked
 * against the file before it is used, so hostile images fail here with a
 * clear message instead of causing reads outside the file.
 */

export const QCOW2_MAGIC = 0x514649fb;
export const EXT_END = 0;
export const EXT_BACKING_FORMAT = 0xe2792aca;
const EXT_EXTERNAL_DATA_FILE = 0x44415441;
const EXT_FULL_DISK_ENCRYPTION = 0x0537be77;

/** Incompatible feature bits (byte 72). */
export const INCOMPAT = { DIRTY: 1n << 0n, CORRUPT: 1n << 1n, EXTERNAL_DATA: 1n << 2n, COMPRESSION_TYPE: 1n << 3n, EXTENDED_L2: 1n << 4n };
const KNOWN_INCOMPAT = INCOMPAT.DIRTY | INCOMPAT.CORRUPT | INCOMPAT.EXTERNAL_DATA | INCOMPAT.COMPRESSION_TYPE | INCOMPAT.EXTENDED_L2;

/** Limits that keep hostile headers from making us allocate or read absurd amounts. */
export const limits = {
  maxVirtualSize: 2 ** 46, // 64 TiB, the volume store's limit
  maxL1Bytes: 32 * 1024 * 1024,
  maxRefcountTableBytes: 8 * 1024 * 1024,
  maxBackingName: 1023,
};

/** A parsed, validated qcow2 header. */
export interface Qcow2Header {
  version: 2 | 3;
  clusterBits: number;
  size: number;
  l1Size: number;
  l1TableOffset: number;
  refcountTableOffset: number;
  refcountTableClusters: number;
  refcountOrder: number;
  headerLength: number;
  incompatible: bigint;
  compatible: bigint;
  autoclear: bigint;
  compressionType: number;
  backingFile: string | undefined;
  backingFormat: string | undefined;
  nbSnapshots: number;
}

/** An image that cannot be used (bad header, corrupt table), with the reason: an I/O error to clients. */
export class Qcow2FormatError extends BlockError {
  constructor(message: string) {
    super("EIO", `qcow2: ${message}`);
    this.name = "Qcow2FormatError";
  }
}

const u64 = (buf: Buffer, at: number, field: string): number => {
  const value = buf.readBigUInt64BE(at);
  if (value > BigInt(Number.MAX_SAFE_INTEGER)) throw new Qcow2FormatError(`${field} ${value} is out of range`);
  return Number(value);
};

/**
 * Parses the first cluster (or the first 64 KiB) of an image. `fileSize`
 * bounds every table the header points at.
 */
export function parseHeader(buf: Buffer, fileSize: number): Qcow2Header {
  if (buf.length < 72) throw new Qcow2FormatError("file too short for a header");
  if (buf.readUInt32BE(0) !== QCOW2_MAGIC) throw new Qcow2FormatError("bad magic (not a qcow2 image)");
  const version = buf.readUInt32BE(4);
  if (version !== 2 && version !== 3) throw new Qcow2FormatError(`unsupported version ${version}`);
  const clusterBits = buf.readUInt32BE(20);
  if (clusterBits < 9 || clusterBits > 21) throw new Qcow2FormatError(`cluster_bits ${clusterBits} out of range 9..21`);
  const clusterSize = 2 ** clusterBits;
  const cryptMethod = buf.readUInt32BE(32);
  if (cryptMethod !== 0) throw new Qcow2FormatError("encrypted images are not supported");

  const header: Qcow2Header = {
    version,
    clusterBits,
    size: u64(buf, 24, "virtual size"),
    l1Size: buf.readUInt32BE(36),
    l1TableOffset: u64(buf, 40, "L1 table offset"),
    refcountTableOffset: u64(buf, 48, "refcount table offset"),
    refcountTableClusters: buf.readUInt32BE(56),
    nbSnapshots: buf.readUInt32BE(60),
    refcountOrder: 4,
    headerLength: 72,
    incompatible: 0n,
    compatible: 0n,
    autoclear: 0n,
    compressionType: 0,
    backingFile: undefined,
    backingFormat: undefined,
  };
  if (version === 3) {
    if (buf.length < 104) throw new Qcow2FormatError("file too short for a version 3 header");
    header.incompatible = buf.readBigUInt64BE(72);
    header.compatible = buf.readBigUInt64BE(80);
    header.autoclear = buf.readBigUInt64BE(88);
    header.refcountOrder = buf.readUInt32BE(96);
    header.headerLength = buf.readUInt32BE(100);
    if (header.headerLength < 104 || header.headerLength > Math.min(clusterSize, buf.length)) {
      throw new Qcow2FormatError(`header_length ${header.headerLength} is invalid`);
    }
    if (header.headerLength > 104) header.compressionType = buf[104]!;
  }
  checkFeatures(header);
  if (header.refcountOrder > 6) throw new Qcow2FormatError(`refcount_order ${header.refcountOrder} out of range 0..6`);
  if (header.size > limits.maxVirtualSize) throw new Qcow2FormatError(`virtual size ${header.size} exceeds ${limits.maxVirtualSize}`);

  const l2Entries = clusterSize / 8;
  const neededL1 = Math.ceil(header.size / (clusterSize * l2Entries));
  if (header.l1Size < neededL1) throw new Qcow2FormatError(`l1_size ${header.l1Size} too small for virtual size ${header.size}`);
  if (header.l1Size * 8 > limits.maxL1Bytes) throw new Qcow2FormatError(`L1 table of ${header.l1Size} entries is too large`);
  checkTable("L1 table", header.l1TableOffset, header.l1Size * 8, clusterSize, fileSize);
  const refcountBytes = header.refcountTableClusters * clusterSize;
  if (header.refcountTableClusters === 0 || refcountBytes > limits.maxRefcountTableBytes) {
    throw new Qcow2FormatError(`refcount table of ${header.refcountTableClusters} clusters is invalid`);
  }
  checkTable("refcount table", header.refcountTableOffset, refcountBytes, clusterSize, fileSize);
  if (overlaps(header.l1TableOffset, header.l1Size * 8, header.refcountTableOffset, refcountBytes)) {
    throw new Qcow2FormatError("L1 table and refcount table overlap");
  }

  const extensionsEnd = parseExtensions(buf, header, clusterSize);
  const backingOffset = u64(buf, 8, "backing file offset");
  const backingSize = buf.readUInt32BE(16);
  if (backingOffset !== 0) {
    if (backingSize === 0 || backingSize > limits.maxBackingName) throw new Qcow2FormatError(`backing file name length ${backingSize} is invalid`);
    if (backingOffset < extensionsEnd || backingOffset + backingSize > Math.min(clusterSize, buf.length)) {
      throw new Qcow2FormatError("backing file name lies outside the header cluster");
    }
    header.backingFile = buf.toString("utf8", backingOffset, backingOffset + backingSize);
    if (header.backingFile.includes("\0")) throw new Qcow2FormatError("backing file name contains NUL");
  }
  return header;
}

function checkFeatures(header: Qcow2Header): void {
  const unknown = header.incompatible & ~KNOWN_INCOMPAT;
  if (unknown !== 0n) throw new Qcow2FormatError(`unknown incompatible features 0x${unknown.toString(16)}`);
  if (header.incompatible & INCOMPAT.EXTERNAL_DATA) throw new Qcow2FormatError("external data files are not supported");
  if (header.incompatible & INCOMPAT.EXTENDED_L2) throw new Qcow2FormatError("extended L2 entries (subclusters) are not supported");
  if (header.incompatible & INCOMPAT.CORRUPT) throw new Qcow2FormatError("image is marked corrupt; repair it with qemu-img check -r all");
  if (header.incompatible & INCOMPAT.DIRTY) throw new Qcow2FormatError("image is dirty (lazy refcounts); repair it with qemu-img check -r all");
  if (header.compressionType !== 0 && header.compressionType !== 1) throw new Qcow2FormatError(`unknown compression type ${header.compressionType}`);
  if (header.nbSnapshots !== 0) throw new Qcow2FormatError("images with internal snapshots are not supported");
}

function checkTable(what: string, offset: number, bytes: number, clusterSize: number, fileSize: number): void {
  if (offset % clusterSize !== 0) throw new Qcow2FormatError(`${what} offset ${offset} is not cluster aligned`);
  if (offset < clusterSize) throw new Qcow2FormatError(`${what} overlaps the header`);
  if (offset + bytes > fileSize) throw new Qcow2FormatError(`${what} at ${offset} (+${bytes}) lies beyond the end of the file (${fileSize})`);
}

function overlaps(a: number, alen: number, b: number, blen: number): boolean {
  return a < b + blen && b < a + alen;
}

/** Reads header extensions; returns the offset just after them. */
function parseExtensions(buf: Buffer, header: Qcow2Header, clusterSize: number): number {
  let at = header.headerLength;
  const end = Math.min(clusterSize, buf.length);
  while (at + 8 <= end) {
    const type = buf.readUInt32BE(at);
    const length = buf.readUInt32BE(at + 4);
    if (type === EXT_END) return at + 8;
    const dataEnd = at + 8 + length;
    if (dataEnd > end) throw new Qcow2FormatError(`header extension 0x${type.toString(16)} runs past the header cluster`);
    if (type === EXT_BACKING_FORMAT) header.backingFormat = buf.toString("utf8", at + 8, dataEnd);
    if (type === EXT_EXTERNAL_DATA_FILE) throw new Qcow2FormatError("external data files are not supported");
    if (type === EXT_FULL_DISK_ENCRYPTION) throw new Qcow2FormatError("encrypted images are not supported");
    at = at + 8 + Math.ceil(length / 8) * 8;
  }
  // Version 2 images may have no end marker when the header is followed directly by data.
  return at;
}

/** What {@link buildImage} writes: a fresh, empty qcow2 v3 image. */
export interface NewImage {
  size: number;
  clusterBits?: number;
  backingFile?: string;
  backingFormat?: string;
}

/**
 * Builds the bytes of a new, empty qcow2 v3 image: header (+ backing format
 * extension and name), one refcount table cluster, one refcount block and the
 * L1 table. The refcount block accounts for exactly these clusters.
 */
export function buildImage(image: NewImage): Buffer {
  const clusterBits = image.clusterBits ?? 16;
  const cs = 2 ** clusterBits;
  const l1Size = Math.max(1, Math.ceil(image.size / (cs * (cs / 8))));
  const l1Clusters = Math.ceil((l1Size * 8) / cs);
  const refcountTableOffset = cs;
  const refcountBlockOffset = 2 * cs;
  const l1TableOffset = 3 * cs;
  const totalClusters = 3 + l1Clusters;
  const refcountEntries = cs / 2; // 16-bit refcounts
  if (totalClusters > refcountEntries) throw new Error("image metadata does not fit one refcount block");

  const buf = Buffer.alloc(totalClusters * cs);
  buf.writeUInt32BE(QCOW2_MAGIC, 0);
  buf.writeUInt32BE(3, 4);
  buf.writeUInt32BE(clusterBits, 20);
  buf.writeBigUInt64BE(BigInt(image.size), 24);
  buf.writeUInt32BE(l1Size, 36);
  buf.writeBigUInt64BE(BigInt(l1TableOffset), 40);
  buf.writeBigUInt64BE(BigInt(refcountTableOffset), 48);
  buf.writeUInt32BE(1, 56);
  buf.writeUInt32BE(4, 96); // refcount_order 4: 16-bit refcounts
  buf.writeUInt32BE(112, 100); // header_length, with the compression type byte (deflate) padded to 8
  let at = 112;
  if (image.backingFormat) {
    const format = Buffer.from(image.backingFormat);
    buf.writeUInt32BE(EXT_BACKING_FORMAT, at);
    buf.writeUInt32BE(format.length, at + 4);
    format.copy(buf, at + 8);
    at += 8 + Math.ceil(format.length / 8) * 8;
  }
  at += 8; // end-of-extensions marker (zeros)
  if (image.backingFile) {
    const name = Buffer.from(image.backingFile);
    buf.writeBigUInt64BE(BigInt(at), 8);
    buf.writeUInt32BE(name.length, 16);
    name.copy(buf, at);
  }
  buf.writeBigUInt64BE(BigInt(refcountBlockOffset), refcountTableOffset);
  for (let i = 0; i < totalClusters; i++) buf.writeUInt16BE(1, refcountBlockOffset + 2 * i);
  return buf;
}

/** "qcow2" when a file starts with the qcow2 magic, "raw" otherwise. */
export function detectImageFormat(path: string): "raw" | "qcow2" {
  const fd = openSync(path, "r");
  try {
    const magic = Buffer.alloc(4);
    readSync(fd, magic, 0, 4, 0);
    return magic.readUInt32BE(0) === QCOW2_MAGIC ? "qcow2" : "raw";
  } finally {
    closeSync(fd);
  }
}
