import { dlopen, read, type Pointer } from "bun:ffi";
import { chmodSync, chownSync } from "node:fs";

/** Who may connect to an NBD unix socket: its mode and, optionally, owner and group. */
export interface UnixSocketAccess {
  mode: number;
  uid?: number;
  gid?: number;
}

/** A bad mode, or a user or group that does not exist. */
export class SocketAccessError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "SocketAccessError";
  }
}

/**
 * Parses `--…-socket-mode/-owner/-group` values (octal mode; user and group
 * by name or number) into a {@link UnixSocketAccess}; undefined when none is set.
 */
export function parseSocketAccess(options: { mode?: string; owner?: string; group?: string }): UnixSocketAccess | undefined {
  if (options.mode === undefined && options.owner === undefined && options.group === undefined) return undefined;
  const mode = options.mode === undefined ? 0o600 : Number.parseInt(options.mode, 8);
  if (!/^[0-7]{3,4}$/.test(options.mode ?? "600") || mode > 0o777) throw new SocketAccessError(`socket mode "${options.mode}": expected octal permissions such as 0660`);
  return { mode, uid: options.owner === undefined ? undefined : userId(options.owner), gid: options.group === undefined ? undefined : groupId(options.group) };
}

/**
 * Creates a unix socket through `listen` with the permissions asked for.
 * The socket is created 0600 (umask) and only then given its owner, group
 * and mode, so nobody else can connect in between.
 */
export function listenUnixWithAccess<T>(path: string, access: UnixSocketAccess | undefined, listen: () => T): T {
  if (!access) return listen();
  const previous = process.umask(0o177);
  let listener: T;
  try {
    listener = listen();
  } finally {
    process.umask(previous);
  }
  if (access.uid !== undefined || access.gid !== undefined) chownSync(path, access.uid ?? -1, access.gid ?? -1);
  chmodSync(path, access.mode);
  return listener;
}

let libc: ReturnType<typeof loadLibc> | undefined;
const loadLibc = () =>
  dlopen("libc.so.6", {
    getpwnam: { args: ["ptr"], returns: "ptr" },
    getgrnam: { args: ["ptr"], returns: "ptr" },
  }).symbols;

/** struct passwd { char *pw_name; char *pw_passwd; uid_t pw_uid; … } and struct group { char *gr_name; char *gr_passwd; gid_t gr_gid; … }. */
const ID_OFFSET = 16;

function userId(name: string): number {
  if (/^\d+$/.test(name)) return Number(name);
  libc ??= loadLibc();
  const entry = libc.getpwnam(Buffer.from(`${name}\0`)) as Pointer | null;
  if (!entry) throw new SocketAccessError(`socket owner "${name}": no such user`);
  return read.u32(entry, ID_OFFSET);
}

function groupId(name: string): number {
  if (/^\d+$/.test(name)) return Number(name);
  libc ??= loadLibc();
  const entry = libc.getgrnam(Buffer.from(`${name}\0`)) as Pointer | null;
  if (!entry) throw new SocketAccessError(`socket group "${name}": no such group`);
  return read.u32(entry, ID_OFFSET);
}
