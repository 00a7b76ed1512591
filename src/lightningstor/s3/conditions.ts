import type { ObjectRow } from "../schema.ts";
import { S3Error } from "./errors.ts";

/**
 * The conditional request headers (RFC 9110, section 13.1) against an
 * object's ETag and Last-Modified (whole seconds, as sent): throws
 * PreconditionFailed, returns true for "not modified" (304). If-Match wins
 * over If-Unmodified-Since and If-None-Match over If-Modified-Since (13.2.2).
 */
export function checkConditions(headers: Headers, row: Pick<ObjectRow, "etag" | "lastModified">): boolean {
  const etags = (value: string) => value.split(",").map((v) => v.trim());
  const modified = Math.floor(row.lastModified.getTime() / 1000) * 1000;
  const ifMatch = headers.get("if-match");
  if (ifMatch !== null && !etags(ifMatch).some((e) => e === "*" || e === row.etag)) throw new S3Error("PreconditionFailed", "at least one of the preconditions you specified did not hold");
  const ifUnmodified = headers.get("if-unmodified-since");
  if (ifMatch === null && ifUnmodified !== null && modified > Date.parse(ifUnmodified)) throw new S3Error("PreconditionFailed", "at least one of the preconditions you specified did not hold");
  const ifNoneMatch = headers.get("if-none-match");
  if (ifNoneMatch !== null) return etags(ifNoneMatch).some((e) => e === "*" || e === row.etag);
  const ifModified = headers.get("if-modified-since");
  return ifModified !== null && modified <= Date.parse(ifModified);
}

/**
 * The conditional write headers of PutObject, CompleteMultipartUpload and
 * CopyObject's destination (S3 User Guide, "Conditional writes"), against the
 * key's current version: `If-None-Match: *` fails when there is one,
 * `If-Match` when there is none or its ETag is not listed. Run inside the
 * metadata transaction that writes, so no concurrent writer slips between.
 */
export function checkWriteConditions(headers: Headers, current: Pick<ObjectRow, "etag"> | undefined): void {
  const ifNoneMatch = headers.get("if-none-match");
  if (ifNoneMatch !== null && ifNoneMatch.trim() !== "*") throw new S3Error("NotImplemented", "If-None-Match on a write only takes *");
  if (ifNoneMatch !== null && current) throw new S3Error("PreconditionFailed", "an object already exists under this key (If-None-Match: *)");
  const ifMatch = headers.get("if-match");
  if (ifMatch === null) return;
  const listed = ifMatch.split(",").map((e) => e.trim());
  const matches = current !== undefined && listed.some((e) => e === "*" || e === current.etag || `"${e}"` === current.etag);
  if (!matches) throw new S3Error("PreconditionFailed", current ? "the object's ETag does not match If-Match" : "there is no object under this key to match If-Match");
}

