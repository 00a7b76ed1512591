import { closeSync, constants, fsyncSync, mkdirSync, openSync, readSync, renameSync, writeSync } from "node:fs";
import { dirname } from "node:path";
import { open } from "node:fs/promises";

/** Creates a directory (and parents) when missing. */
export function ensureDir(path: string, mode = 0o750): void {
  mkdirSync(path, { recursive: true, mode });
}

/**
 * Opens a file for reading without updating its access time (O_NOATIME), so
 * that serving a file does not dirty its inode and queue a journal write. The
 * flag needs the file's owner; for anyone else's file it falls back to a plain open.
 */
export function openForReading(path: string): number {
  try {
    return openSync(path, constants.O_RDONLY | constants.O_NOATIME);
  } catch (err) {
    if ((err as { code?: string }).code !== "EPERM") throw err;
    return openSync(path, constants.O_RDONLY);
  }
}

/** fsyncs a directory so that a rename or create inside it is durable. */
export function fsyncDir(path: string): void {
  const fd = openSync(path, "r");
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

/** fsyncDir off the event loop. */
export async function syncDirectory(path: string): Promise<void> {
  const dir = await open(path, "r");
  try {
    await dir.sync();
  } finally {
    await dir.close();
  }
}

/** Writes a file durably: temporary name, fsync, rename, fsync of the directory. */
export function writeFileAtomic(path: string, data: string | Uint8Array, mode = 0o644): void {
  const tmp = `${path}.tmp-${process.pid}`;
  const fd = openSync(tmp, "w", mode);
  try {
    writeSync(fd, typeof data === "string" ? Buffer.from(data) : data);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  renameSync(tmp, path);
  fsyncDir(dirname(path));
}

/** Creates a new file (failing if it exists), lets `fill` write it, then fsyncs and closes it. */
export function createFileDurably(path: string, fill: (fd: number) => void, mode = 0o640): void {
  const fd = openSync(path, "wx", mode);
  try {
    fill(fd);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

/** Positional read of exactly `length` bytes; what lies past the end of the file reads as zeros. */
export function readFully(fd: number, buf: Uint8Array, at: number, length: number, position: number): void {
  let done = 0;
  while (done < length) {
    const n = readSync(fd, buf, at + done, length - done, position + done);
    if (n === 0) {
      buf.fill(0, at + done, at + length);
      return;
    }
    done += n;
  }
}

/** Positional write of exactly `length` bytes. */
export function writeFully(fd: number, data: Uint8Array, at: number, length: number, position: number): void {
  for (let done = 0; done < length; ) done += writeSync(fd, data, at + done, length - done, position + done);
}
