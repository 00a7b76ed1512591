import { dlopen, FFIType, ptr, read } from "bun:ffi";

/**
 * The few Linux calls that Node's fs and Bun's sockets lack, through bun:ffi
 * on libc: fallocate (hole punching and zeroing), lseek SEEK_DATA/SEEK_HOLE
 * (sparse maps), posix_fadvise (readahead for NBD_CMD_CACHE), the socket
 * calls the NBD I/O workers use for blocking I/O on a connection, and
 * sendfile for S3 GET bodies.
 */
const libc = dlopen("libc.so.6", {
  // ssize_t results read as i32: our buffers are far below 2 GiB, and an i32 is a plain
  // number where an i64 would be a BigInt allocated on every call of the hot path.
  recv: { args: [FFIType.i32, FFIType.ptr, FFIType.u64, FFIType.i32], returns: FFIType.i32 },
  send: { args: [FFIType.i32, FFIType.ptr, FFIType.u64, FFIType.i32], returns: FFIType.i32 },
  sendfile: { args: [FFIType.i32, FFIType.i32, FFIType.ptr, FFIType.u64], returns: FFIType.i32 },
  poll: { args: [FFIType.ptr, FFIType.u64, FFIType.i32], returns: FFIType.i32 },
  dup: { args: [FFIType.i32], returns: FFIType.i32 },
  close: { args: [FFIType.i32], returns: FFIType.i32 },
  shutdown: { args: [FFIType.i32, FFIType.i32], returns: FFIType.i32 },
  fcntl: { args: [FFIType.i32, FFIType.i32, FFIType.i32], returns: FFIType.i32 },
  setsockopt: { args: [FFIType.i32, FFIType.i32, FFIType.i32, FFIType.ptr, FFIType.u32], returns: FFIType.i32 },
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

const errnoNames: Record<number, string> = {
  1: "EPERM", 4: "EINTR", 5: "EIO", 9: "EBADF", 11: "EAGAIN", 22: "EINVAL", 28: "ENOSPC", 32: "EPIPE", 95: "EOPNOTSUPP", 104: "ECONNRESET", 122: "EDQUOT",
};
export const EAGAIN = 11;
export const EINTR = 4;

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

const MSG_DONTWAIT = 0x40;
const MSG_NOSIGNAL = 0x4000;
const MSG_MORE = 0x8000;
const F_GETFL = 3;
const F_SETFL = 4;
const O_NONBLOCK = 0o4000;
const SOL_SOCKET = 1;
const SO_RCVTIMEO = 20;
const SO_SNDBUF = 7;
const SO_SNDBUFFORCE = 32;
const SHUT_RD = 0;
const SHUT_RDWR = 2;
const POLLIN = 1;

/** Result of a socket call: bytes, 0 for end of stream, or -errno. */
export type IoResult = number;

/**
 * recv(2) into `buf[offset…)`: blocking unless `dontWait`. Returns bytes
 * received, 0 at end of stream, or -errno (-EAGAIN on timeout).
 */
export function recvInto(fd: number, buf: Buffer, offset: number, dontWait = false): IoResult {
  const n = libc.symbols.recv(fd, ptr(buf, offset), buf.length - offset, dontWait ? MSG_DONTWAIT : 0);
  return n >= 0 ? n : -errno();
}

/**
 * send(2) of `buf[offset, offset+length)`; returns bytes sent or -errno. Never
 * raises SIGPIPE. With `more`, the bytes wait to share a segment with what is
 * sent next (MSG_MORE), and the call does not block (MSG_DONTWAIT).
 */
export function sendFrom(fd: number, buf: Uint8Array, offset: number, length: number, more = false): IoResult {
  const n = libc.symbols.send(fd, ptr(buf, offset), length, more ? MSG_NOSIGNAL | MSG_MORE | MSG_DONTWAIT : MSG_NOSIGNAL);
  return n >= 0 ? n : -errno();
}

/** Waits until any of `fds` is readable (or `timeoutMs` passes); returns the readable ones. */
export function pollReadable(fds: number[], timeoutMs: number): number[] {
  const pollfds = Buffer.alloc(8 * fds.length);
  fds.forEach((fd, i) => {
    pollfds.writeInt32LE(fd, 8 * i);
    pollfds.writeInt16LE(POLLIN, 8 * i + 4);
  });
  if (libc.symbols.poll(ptr(pollfds), fds.length, timeoutMs) <= 0) return [];
  // Any returned event (data, hang-up, error) makes recv return promptly.
  return fds.filter((_, i) => pollfds.readInt16LE(8 * i + 6) !== 0);
}

/**
 * sendfile(2): up to `length` bytes of file `fileFd` from `offset` to socket
 * `socketFd`, without copying them through user space. Returns bytes sent
 * (0 at the end of the file) or -errno.
 */
export function sendFile(socketFd: number, fileFd: number, offset: number, length: number): IoResult {
  const position = new BigInt64Array([BigInt(offset)]);
  const n = libc.symbols.sendfile(socketFd, fileFd, ptr(position), length);
  return n >= 0 ? n : -errno();
}

/**
 * A second descriptor for the same socket, in blocking mode, with a large send
 * buffer and (when `receiveTimeoutMs` > 0) a receive timeout. A timeout costs
 * a timer per recv, so single-owner connections go without one.
 */
export function dupForWorker(fd: number, receiveTimeoutMs: number): number {
  const copy = dupFd(fd);
  // O_NONBLOCK lives on the shared file description: the event loop has stopped using this socket.
  const flags = libc.symbols.fcntl(copy, F_GETFL, 0);
  libc.symbols.fcntl(copy, F_SETFL, flags & ~O_NONBLOCK);
  if (receiveTimeoutMs > 0) {
    const timeval = Buffer.alloc(16);
    timeval.writeBigInt64LE(BigInt(Math.floor(receiveTimeoutMs / 1000)), 0);
    timeval.writeBigInt64LE(BigInt((receiveTimeoutMs % 1000) * 1000), 8);
    libc.symbols.setsockopt(copy, SOL_SOCKET, SO_RCVTIMEO, ptr(timeval), 16);
  }
  enlargeSendBuffer(copy, 4 * 1024 * 1024);
  return copy;
}

/** A large send buffer lets big replies leave in fewer sends (and wake-ups). */
export function enlargeSendBuffer(fd: number, bytes: number): void {
  const size = Buffer.alloc(4);
  size.writeInt32LE(bytes, 0);
  if (libc.symbols.setsockopt(fd, SOL_SOCKET, SO_SNDBUFFORCE, ptr(size), 4) !== 0) {
    libc.symbols.setsockopt(fd, SOL_SOCKET, SO_SNDBUF, ptr(size), 4);
  }
}

/** dup(2). */
export function dupFd(fd: number): number {
  const copy = libc.symbols.dup(fd);
  if (copy < 0) throw new SystemError("dup", errno());
  return copy;
}

/** Makes a blocked recv on the socket return end-of-stream (replies can still be sent). */
export function shutdownRead(fd: number): void {
  libc.symbols.shutdown(fd, SHUT_RD);
}

/** close(2). */
export function closeFd(fd: number): void {
  libc.symbols.close(fd);
}

/** Ends a connection for the peer and releases our descriptor. */
export function shutdownAndClose(fd: number): void {
  libc.symbols.shutdown(fd, SHUT_RDWR);
  libc.symbols.close(fd);
}

/** The descriptor under a Bun socket (present at runtime, missing from Bun's types). */
export function socketFd(socket: object): number {
  const fd = (socket as { fd?: number }).fd;
  if (typeof fd !== "number" || fd < 0) throw new Error("socket has no file descriptor");
  return fd;
}
