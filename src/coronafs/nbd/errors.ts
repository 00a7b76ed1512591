import { EXTENT_HOLE, EXTENT_ZERO } from "../backend/block-backend.ts";
import { NBD_ERR, STATE_HOLE, STATE_ZERO } from "./protocol.ts";

/** A refusal decided by the NBD layer itself (request validation), with the NBD error value to answer. */
export class NbdError extends Error {
  constructor(
    readonly errno: number,
    message: string,
  ) {
    super(message);
    this.name = "NbdError";
  }
}

/**
 * Maps any error thrown while serving a request to the NBD error value sent
 * on the wire — the one place where that happens. Backends fail with a
 * `BlockError` or a system error, both carrying an errno-like `code`.
 * `unexpected` is true for errors worth logging (bugs, I/O failures), false
 * for expected refusals.
 */
export function nbdErrorFor(err: unknown): { errno: number; message: string; unexpected: boolean } {
  if (err instanceof NbdError) return { errno: err.errno, message: err.message, unexpected: false };
  const code = (err as { code?: string } | undefined)?.code;
  const message = err instanceof Error ? err.message : String(err);
  switch (code) {
    case "EPERM":
    case "EACCES":
    case "EROFS":
      return { errno: NBD_ERR.EPERM, message, unexpected: false };
    // "SHOULD map the EDQUOT and EFBIG errors to ENOSPC"
    case "ENOSPC":
    case "EDQUOT":
    case "EFBIG":
      return { errno: NBD_ERR.ENOSPC, message, unexpected: false };
    case "EINVAL":
      return { errno: NBD_ERR.EINVAL, message, unexpected: true };
    case "ENOMEM":
      return { errno: NBD_ERR.ENOMEM, message, unexpected: true };
    case "EOPNOTSUPP":
    case "ENOTSUP":
      return { errno: NBD_ERR.ENOTSUP, message, unexpected: false };
    default:
      return { errno: NBD_ERR.EIO, message, unexpected: true };
  }
}

/** The base:allocation flags of a backend extent (proto.md "base:allocation"). */
export function nbdExtentFlags(flags: number): number {
  return (flags & EXTENT_HOLE ? STATE_HOLE : 0) | (flags & EXTENT_ZERO ? STATE_ZERO : 0);
}
