/**
 * HTTP/1.1 message framing for the S3 listener (RFC 9112): the request head
 * and the chunked transfer coding. Pure functions over bytes; the listener
 * does the I/O.
 */

/** A request the listener answers itself with `status` and closes the connection. */
export class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
    this.name = "HttpError";
  }
}

/** Longest request head accepted (S3 allows 8 KiB of user metadata alone). */
export const MAX_HEAD_BYTES = 64 * 1024;
const MAX_LINE_BYTES = 4096;

export interface RequestHead {
  method: string;
  /** The request target exactly as sent: S3 keys are opaque, so no normalization. */
  target: string;
  version: "1.0" | "1.1";
  headers: Headers;
  /** How the body is delimited. */
  body: { kind: "none" } | { kind: "length"; length: number } | { kind: "chunked" };
  /** Bytes the head took, its final CRLF CRLF included. */
  size: number;
}

const HEAD_END = Buffer.from("\r\n\r\n");
const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;

/** Parses the request head at the start of `data`; undefined while it is incomplete. */
export function parseHead(data: Buffer): RequestHead | undefined {
  // A client may send empty lines between requests (RFC 9112 §2.2).
  let start = 0;
  while (data[start] === 0x0d && data[start + 1] === 0x0a) start += 2;
  const end = data.indexOf(HEAD_END, start);
  if (end < 0 || end - start > MAX_HEAD_BYTES) {
    if (data.length - start > MAX_HEAD_BYTES) throw new HttpError(431, "request head too large");
    return undefined;
  }
  const [requestLine = "", ...fields] = data.toString("latin1", start, end).split("\r\n");
  const match = /^([!#$%&'*+\-.^_`|~0-9A-Za-z]+) (\S+) HTTP\/1\.([01])$/.exec(requestLine);
  if (!match) throw new HttpError(400, "malformed request line");
  const headers = new Headers();
  for (const field of fields) {
    const colon = field.indexOf(":");
    const name = field.slice(0, colon);
    if (colon <= 0 || !TOKEN.test(name)) throw new HttpError(400, "malformed header field");
    headers.append(name, field.slice(colon + 1).trim());
  }
  return { method: match[1]!, target: match[2]!, version: match[3] === "0" ? "1.0" : "1.1", headers, body: bodyFraming(headers), size: end + HEAD_END.length };
}

function bodyFraming(headers: Headers): RequestHead["body"] {
  const transferEncoding = headers.get("transfer-encoding");
  const contentLength = headers.get("content-length");
  if (transferEncoding !== null) {
    // Both framings at once is how requests are smuggled (RFC 9112 §6.1).
    if (contentLength !== null) throw new HttpError(400, "both Transfer-Encoding and Content-Length");
    if (transferEncoding.trim().toLowerCase() !== "chunked") throw new HttpError(501, `unsupported transfer coding "${transferEncoding}"`);
    return { kind: "chunked" };
  }
  if (contentLength === null) return { kind: "none" };
  const values = new Set(contentLength.split(",").map((v) => v.trim()));
  const [value = ""] = values;
  if (values.size !== 1 || !/^\d{1,15}$/.test(value)) throw new HttpError(400, "invalid Content-Length");
  const length = Number(value);
  return length === 0 ? { kind: "none" } : { kind: "length", length };
}

/**
 * Decodes a chunked request body as it arrives:
 *   hex-size[;ext]\r\n  data\r\n  …  0\r\n  [trailer-field\r\n …]  \r\n
 * Trailer fields are read and dropped (S3's own trailers travel inside aws-chunked).
 */
export class ChunkedDecoder {
  private state: "size" | "data" | "data-end" | "trailer" | "done" = "size";
  private remaining = 0;
  private line = "";

  get done(): boolean {
    return this.state === "done";
  }

  /** The body bytes in `input`, and once the body has ended, whatever follows it. */
  feed(input: Buffer): { data: Buffer[]; rest?: Buffer } {
    const data: Buffer[] = [];
    let at = 0;
    while (at < input.length && this.state !== "done") {
      if (this.state === "data") {
        const take = Math.min(this.remaining, input.length - at);
        data.push(input.subarray(at, at + take));
        at += take;
        this.remaining -= take;
        if (this.remaining === 0) this.state = "data-end";
        continue;
      }
      const newline = input.indexOf(0x0a, at);
      this.line += input.toString("latin1", at, newline < 0 ? input.length : newline);
      if (this.line.length > MAX_LINE_BYTES) throw new HttpError(400, "chunked body line too long");
      if (newline < 0) break;
      at = newline + 1;
      const line = this.line.endsWith("\r") ? this.line.slice(0, -1) : this.line;
      this.line = "";
      this.takeLine(line);
    }
    return this.state === "done" ? { data, rest: input.subarray(at) } : { data };
  }

  private takeLine(line: string): void {
    if (this.state === "size") {
      const size = line.split(";", 1)[0]!.trim();
      if (!/^[0-9a-fA-F]{1,12}$/.test(size)) throw new HttpError(400, "malformed chunk size");
      this.remaining = parseInt(size, 16);
      this.state = this.remaining === 0 ? "trailer" : "data";
    } else if (this.state === "data-end") {
      if (line !== "") throw new HttpError(400, "chunk data not followed by CRLF");
      this.state = "size";
    } else if (line === "") {
      this.state = "done";
    }
  }
}
