import { S3Error } from "./errors.ts";

/**
 * A Range header (RFC 9110, section 14.1.2): `bytes=a-b`, `bytes=a-` or
 * `bytes=-n` as [start, end) within `size`; "unsatisfiable" for a range that
 * starts past the end (416); undefined for none, or one that is ignored and
 * answered whole (several ranges, malformed, end before start).
 */
export function parseRange(header: string | null, size: number): [number, number] | "unsatisfiable" | undefined {
  const match = header ? /^bytes=(\d*)-(\d*)$/.exec(header.trim()) : null;
  if (!match || (match[1] === "" && match[2] === "")) return undefined;
  if (match[1] === "") {
    const suffix = Number(match[2]);
    if (suffix === 0) return "unsatisfiable";
    return [Math.max(0, size - suffix), size];
  }
  const start = Number(match[1]);
  if (start >= size) return "unsatisfiable";
  const end = match[2] === "" ? size : Math.min(size, Number(match[2]) + 1);
  return end <= start ? undefined : [start, end];
}

/**
 * x-amz-copy-source-range (S3 API Reference, UploadPartCopy): exactly
 * `bytes=first-last`, both within the source, as [start, end). Unlike Range
 * it is never clamped: a malformed one is InvalidArgument, one that reaches
 * past the source is 416 InvalidRange.
 */
export function parseCopySourceRange(header: string, size: number): [number, number] {
  const match = /^bytes=(\d+)-(\d+)$/.exec(header.trim());
  if (!match || Number(match[2]) < Number(match[1])) throw new S3Error("InvalidArgument", "x-amz-copy-source-range must be bytes=first-last with first <= last");
  const [first, last] = [Number(match[1]), Number(match[2])];
  if (last >= size) {
    throw new S3Error("InvalidRange", `x-amz-copy-source-range ${header.trim()} reaches past the source's ${size} bytes`, { "content-range": `bytes */${size}` });
  }
  return [first, last + 1];
}
