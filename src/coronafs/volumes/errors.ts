/** What went wrong with a volume request, independent of the protocol that carried it. */
export type VolumeErrorKind = "not-found" | "conflict" | "invalid" | "insufficient-storage";

/**
 * The volume store's own failure. The admin routes turn it into a problem
 * response in one place (volumes/routes.ts); the store knows nothing of HTTP.
 */
export class VolumeError extends Error {
  constructor(
    readonly kind: VolumeErrorKind,
    message: string,
    /** The request field at fault, for `invalid`. */
    readonly field?: string,
  ) {
    super(message);
    this.name = "VolumeError";
  }

  static notFound = (message: string) => new VolumeError("not-found", message);
  static conflict = (message: string) => new VolumeError("conflict", message);
  static invalid = (field: string, message: string) => new VolumeError("invalid", message, field);
  static insufficientStorage = (message: string) => new VolumeError("insufficient-storage", message);
}
