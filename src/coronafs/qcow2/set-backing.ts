import { closeSync, fdatasyncSync, fstatSync, openSync, readSync, writeSync } from "node:fs";
import { EXT_BACKING_FORMAT, EXT_END, limits, parseHeader, Qcow2FormatError } from "./header.ts";

/**
 * Points an image at another backing file, as `qemu-img rebase -u` does
 * (qcow2.txt "Header", "Header extensions"): the header extensions are
 * rewritten with the backing format extension replaced (the others kept as
 * they are), followed by the end marker and the new name, and
 * backing_file_offset/size are set. The name must fit between the extensions
 * and the first table (the header cluster): the space the spec reserves for
 * it. The image must be a valid qcow2 overlay (its header is vetted first,
 * and must name a backing file). Durable when it returns.
 */
export function setBackingFile(path: string, backing: { file: string; format: "raw" | "qcow2" }): void {
  const fd = openSync(path, "r+");
  try {
    const fileSize = fstatSync(fd).size;
    const head = Buffer.alloc(Math.min(fileSize, 2 * 1024 * 1024));
    readSync(fd, head, 0, head.length, 0);
    const header = parseHeader(head, fileSize);
    if (header.backingFile === undefined) throw new Qcow2FormatError("the image names no backing file: it is not an overlay");
    const clusterSize = 2 ** header.clusterBits;
    const limit = Math.min(clusterSize, header.l1TableOffset, header.refcountTableOffset, head.length);
    const start = header.version === 3 ? header.headerLength : 72;

    const kept: Buffer[] = [];
    for (let at = start; at + 8 <= limit; ) {
      const type = head.readUInt32BE(at);
      if (type === EXT_END) break;
      const size = 8 + Math.ceil(head.readUInt32BE(at + 4) / 8) * 8;
      if (type !== EXT_BACKING_FORMAT) kept.push(head.subarray(at, at + size));
      at += size;
    }
    const format = Buffer.from(backing.format);
    const formatExt = Buffer.alloc(8 + Math.ceil(format.length / 8) * 8);
    formatExt.writeUInt32BE(EXT_BACKING_FORMAT, 0);
    formatExt.writeUInt32BE(format.length, 4);
    format.copy(formatExt, 8);
    const name = Buffer.from(backing.file);
    if (name.length === 0 || name.length > limits.maxBackingName) throw new Qcow2FormatError(`backing file name of ${name.length} bytes is invalid`);
    const area = Buffer.concat([...kept, formatExt, Buffer.alloc(8) /* end marker */, name]);
    if (start + area.length > limit) {
      throw new Qcow2FormatError(`no room for the backing file name: the header cluster has ${limit - start} bytes after the header, ${area.length} are needed`);
    }
    // Nothing but extensions and the name may live there: clear the rest up to the first table.
    const region = Buffer.alloc(limit - start);
    area.copy(region);
    writeSync(fd, region, 0, region.length, start);
    const fields = Buffer.alloc(12);
    fields.writeBigUInt64BE(BigInt(start + area.length - name.length), 0); // backing_file_offset
    fields.writeUInt32BE(name.length, 8); // backing_file_size
    writeSync(fd, fields, 0, fields.length, 8);
    fdatasyncSync(fd);
  } finally {
    closeSync(fd);
  }
}
