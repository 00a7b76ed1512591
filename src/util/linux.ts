import { dlopen, FFIType, read } from "bun:ffi";

/**
 * The few Linux file calls that Node's fs lacks, through bun:ffi on libc:
 * fallocate (hole punching and zeroing), lseek SEEK_DATA/SEEK_HOLE (sparse
 * maps) and posix_fadvise (readahead for NBD_CMD_CACHE).
 */
const libc = dlopen("libc.so.6", {
  fallocate: { args: [FFIType.i32, FFIType.i32, FFIType.i64, FFIType.i64], returns: FFIType.i32 },
  lseek: { args: [FFIType.i32, FFIType.i64, FFIType.i32], returns: FFIType.i64 },
  posix_fadvise: { args: [FFIType.i32, FFIType.i64, FFIType.i64, FFIType.i32], returns: FFIType.i32 },
  __errno_location: { args: [], returns: FFIType.ptr },
});

const FALLOC_FL_KEEP_SIZE = 0x01;
const FALLOC_FL_PUNCH_HOLE = 0x02;
const FALLOC_FL_ZERO_RANGE = 0x10;
const SEEK_DATA = 3;
const SEEK_HOLE = 4;
const POSIX_FADV_WILLNEED = 3;
const ENXIO = 6;

/** An errno from a libc call, shaped like Node's system errors (`code`). */
export class SystemError extends Error {
  constructor(
    readonly syscall: string,
    readonly errno: number,
  ) {
    super(`${syscall} failed: errno ${errno}`);
    this.name = "SystemError";
  }
  get code(): string {
    return errnoNames[this.errno] ?? `E${this.errno}`;
  }
}

const errnoNames: Record<number, string> = { 1: "EPERM", 5: "EIO", 9: "EBADF", 22: "EINVAL", 28: "ENOSPC", 95: "EOPNOTSUPP", 122: "EDQUOT" };

function errno(): number {
  return read.i32(libc.symbols.__errno_location()!, 0);
}

/** Deallocates a byte range; it then reads as zeros. The file size is unchanged. */
export function punchHole(fd: number, offset: number, length: number): void {
  if (libc.symbols.fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, offset, length) !== 0) {
    throw new SystemError("fallocate(PUNCH_HOLE)", errno());
  }
}

/** Zeroes a byte range keeping it allocated (NBD_CMD_FLAG_NO_HOLE). */
export function zeroRange(fd: number, offset: number, length: number): void {
  if (libc.symbols.fallocate(fd, FALLOC_FL_ZERO_RANGE | FALLOC_FL_KEEP_SIZE, offset, length) !== 0) {
    throw new SystemError("fallocate(ZERO_RANGE)", errno());
  }
}

/**
 * The next data (`"data"`) or hole (`"hole"`) position at or after `offset`;
 * `undefined` when there is none before the end of the file.
 */
export function seekExtent(fd: number, offset: number, what: "data" | "hole"): number | undefined {
  const result = Number(libc.symbols.lseek(fd, offset, what === "data" ? SEEK_DATA : SEEK_HOLE));
  if (result >= 0) return result;
  const e = errno();
  if (e === ENXIO) return undefined;
  throw new SystemError(`lseek(${what === "data" ? "SEEK_DATA" : "SEEK_HOLE"})`, e);
}

/** Asks the kernel to read a range ahead into the page cache. */
export function willNeed(fd: number, offset: number, length: number): void {
  const rc = libc.symbols.posix_fadvise(fd, offset, length, POSIX_FADV_WILLNEED);
  if (rc !== 0) throw new SystemError("posix_fadvise", rc);
}
