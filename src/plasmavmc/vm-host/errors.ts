/** What went wrong with a VM request; the routes turn each kind into its HTTP problem. */
export type VmErrorKind = "invalid" | "not-found" | "conflict" | "launch-failed";

/** The VM host's own error (STYLE.md, guideline 12): no HTTP here, only what happened. */
export class VmError extends Error {
  constructor(
    readonly kind: VmErrorKind,
    message: string,
    /** For `invalid`: the request field at fault (`disks.0.volume`). */
    readonly field?: string,
  ) {
    super(message);
    this.name = "VmError";
  }
}
