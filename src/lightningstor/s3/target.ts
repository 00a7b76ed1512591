/**
 * A request target exactly as the client sent it. URL parsing would resolve
 * `.` and `..` segments, but S3 keys are opaque ("a/../b" is a key) and SigV4
 * signs the path as sent, so the path is kept raw.
 */
export interface RequestTarget {
  /** The path, still percent-encoded, dot segments untouched. */
  pathname: string;
  /** "?…" or "". */
  search: string;
  searchParams: URLSearchParams;
}

/** Parses "/path?query", or an absolute URL, without normalizing the path. */
export function parseTarget(raw: string): RequestTarget {
  const absolute = /^[a-z][a-z0-9+.-]*:\/\/[^/?#]*/i.exec(raw);
  const target = absolute ? raw.slice(absolute[0].length) || "/" : raw;
  const q = target.indexOf("?");
  const pathname = q < 0 ? target : target.slice(0, q);
  const search = q < 0 ? "" : target.slice(q);
  return { pathname: pathname.startsWith("/") ? pathname : "/" + pathname, search, searchParams: new URLSearchParams(search) };
}
