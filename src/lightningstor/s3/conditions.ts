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
