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
