/** Request headers stored with an object and returned on GET/HEAD. */
const storedHeaders = ["content-type", "content-encoding", "content-disposition", "content-language", "cache-control", "expires"];
/** GetObject query parameters that override response headers (S3 API reference, GetObject). */
const overrides: Record<string, string> = {
  "response-content-type": "content-type",
  "response-content-language": "content-language",
  "response-expires": "expires",
  "response-cache-control": "cache-control",
  "response-content-disposition": "content-disposition",
  "response-content-encoding": "content-encoding",
};

/** The headers stored with an object: Content-* and friends (minus aws-chunked), and x-amz-meta-*. */
export function objectHeaders(request: Request): Record<string, string> {
  const headers: Record<string, string> = {};
  for (const name of storedHeaders) {
    let value = request.headers.get(name);
    if (name === "content-encoding" && value) value = withoutAwsChunked(value);
    if (value) headers[name] = value;
  }
  for (const [name, value] of request.headers) if (name.startsWith("x-amz-meta-")) headers[name] = value;
  return headers;
}

/**
 * Content-Encoding without the aws-chunked framing the gateway removed; the
 * other encodings are kept exactly as sent ("aws-chunked, gzip" → "gzip").
 */
export function withoutAwsChunked(value: string): string {
  return value
    .split(",")
    .filter((coding) => coding.trim().toLowerCase() !== "aws-chunked")
    .join(",")
    .trimStart();
}

/** `headers` with the response-* query parameters of a GET applied. */
export function withOverrides(headers: Record<string, string>, query: URLSearchParams): Record<string, string> {
  const out = { ...headers };
  for (const [param, header] of Object.entries(overrides)) {
    const value = query.get(param);
    if (value !== null) out[header] = value;
  }
  return out;
}

/**
 * x-amz-checksum-* headers for stored checksums, with their type: a multipart
 * object's checksum is of its parts' checksums ("…-N", COMPOSITE).
 */
export function checksumHeaders(checksums: Record<string, string>): Record<string, string> {
  const entries = Object.entries(checksums);
  if (entries.length === 0) return {};
  const type = entries.some(([, value]) => value.includes("-")) ? "COMPOSITE" : "FULL_OBJECT";
  return { ...Object.fromEntries(entries.map(([alg, value]) => [`x-amz-checksum-${alg}`, value])), "x-amz-checksum-type": type };
}
