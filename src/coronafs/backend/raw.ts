import { closeSync, fdatasyncSync, fstatSync, fsyncSync, ftruncateSync, openSync } from "node:fs";
import { createFileDurably, readFully, writeFully } from "../../util/fs.ts";
import { punchHole, seekExtent, willNeed, zeroRange } from "../../util/linux.ts";
import { EXTENT_HOLE, EXTENT_ZERO, type BlockBackend, type Extent, type ZeroOptions } from "./block-backend.ts";
import { BlockError } from "./block-error.ts";
import type { VolumeFormat } from "./volume-format.ts";

const zeroChunk = new Uint8Array(1 << 20);

/**
 * A raw (sparse) image file. Data goes straight to the file at its offset;
 * holes come from the file system (SEEK_DATA/SEEK_HOLE), TRIM punches them.
 * One instance is shared by every connection to the volume, so a FLUSH
 * (fdatasync of the one file) covers writes of all connections: multi-conn safe.
 */
export class RawBackend implements BlockBackend {
  readonly size: number;
  private readonly fd: number;

  constructor(
    readonly path: string,
    readonly readOnly: boolean,
  ) {
    this.fd = openSync(path, readOnly ? "r" : "r+");
    this.size = fstatSync(this.fd).size;
  }

  read(buf: Uint8Array, bufOffset: number, length: number, offset: number): void {
    // A file truncated behind our back reads as zeros past its end.
    readFully(this.fd, buf, bufOffset, length, offset);
  }

  write(data: Uint8Array, dataOffset: number, length: number, offset: number): void {
    writeFully(this.fd, data, dataOffset, length, offset);
  }

  flush(): void {
    fdatasyncSync(this.fd);
  }

  trim(offset: number, length: number): void {
    try {
      punchHole(this.fd, offset, length);
    } catch {
      // TRIM is advisory: a file system without hole punching keeps the data.
    }
  }

  writeZeroes(offset: number, length: number, options: ZeroOptions): void {
    try {
      if (options.noHole) zeroRange(this.fd, offset, length);
      else punchHole(this.fd, offset, length);
      return;
    } catch (err) {
      if (options.fast) throw new BlockError("ENOTSUP", `fast zero unavailable: ${(err as Error).message}`);
    }
    for (let done = 0; done < length; ) {
      const n = Math.min(zeroChunk.length, length - done);
      this.write(zeroChunk, 0, n, offset + done);
      done += n;
    }
  }

  blockStatus(offset: number, length: number, maxExtents: number): Extent[] {
    const end = Math.min(offset + length, this.size);
    const extents: Extent[] = [];
    let pos = offset;
    while (pos < end && extents.length < maxExtents) {
      const data = seekExtent(this.fd, pos, "data") ?? end;
      if (data > pos) {
        const next = Math.min(data, end);
        extents.push({ length: next - pos, flags: EXTENT_HOLE | EXTENT_ZERO });
        pos = next;
        continue;
      }
      const next = Math.min(seekExtent(this.fd, pos, "hole") ?? end, end);
      extents.push({ length: next - pos, flags: 0 });
      pos = next;
    }
    return extents;
  }

  cache(offset: number, length: number): void {
    willNeed(this.fd, offset, length);
  }

  close(): void {
    closeSync(this.fd);
  }
}

/** Raw volumes: sparse files of exactly the volume size. */
export const rawFormat: VolumeFormat = {
  create: (path, sizeBytes) => createFileDurably(path, (fd) => ftruncateSync(fd, sizeBytes)),
  open: (path, readOnly) => new RawBackend(path, readOnly),
  grow(path, sizeBytes) {
    const fd = openSync(path, "r+");
    try {
      ftruncateSync(fd, sizeBytes);
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
  },
};
