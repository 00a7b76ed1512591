/** The errno-like codes a backend fails with (the same names as system errors' `code`). */
export type BlockErrorCode = "EIO" | "ENOSPC" | "EINVAL" | "EROFS" | "EPERM" | "ENOTSUP" | "ENOMEM";

/**
 * A block backend's own failure, with an errno-like code. Protocols translate
 * it at their boundary (nbd/errors.ts for NBD); the backend knows none of them.
 */
export class BlockError extends Error {
  constructor(
    readonly code: BlockErrorCode,
    message: string,
  ) {
    super(message);
    this.name = "BlockError";
  }
}
