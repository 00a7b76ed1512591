import { createHash, type Hash } from "node:crypto";
import { S3Error } from "./errors.ts";
import { chunkSignature, signaturesMatch, trailerSignature } from "./sigv4.ts";

/**
 * Decoder for `Content-Encoding: aws-chunked` bodies (S3 API Reference,
 * "Transferring Payload in Multiple Chunks" and "Including Trailing Headers"):
 *
 *   hex-size[;chunk-signature=SIG]\r\n  data  \r\n   … repeated …
 *   0[;chunk-signature=SIG]\r\n  [name:value\r\n …]  [x-amz-trailer-signature:SIG\r\n]  \r\n
 *
 * It yields the decoded bytes as they arrive (never the framing), checks
 * every chunk signature when the payload is signed, checks the trailer
 * signature when there is one, and returns the trailing headers. Nothing
 * may be committed before the generator has finished without error.
 */

/** How chunks are signed (STREAMING-AWS4-HMAC-SHA256-PAYLOAD[-TRAILER]); absent for unsigned. */
export interface ChunkSigning {
  key: Buffer;
  amzDate: string;
  scope: string;
  /** The signature of the request headers: the first link of the chain. */
  seedSignature: string;
}

export interface AwsChunkedOptions {
  signing?: ChunkSigning;
  /** x-amz-decoded-content-length, checked against what was decoded. */
  decodedLength?: number;
}

const MAX_LINE = 4096;
const CRLF = Buffer.from("\r\n");

export async function* decodeAwsChunked(
  source: AsyncIterable<Uint8Array>,
  options: AwsChunkedOptions = {},
): AsyncGenerator<Uint8Array, Record<string, string>, undefined> {
  const reader = new LineReader(source[Symbol.asyncIterator]());
  const signing = options.signing;
  let previous = signing?.seedSignature ?? "";
  let decoded = 0;

  for (;;) {
    const header = await reader.line();
    const [sizeText, ...extensions] = header.split(";");
    if (!/^[0-9a-fA-F]{1,16}$/.test(sizeText ?? "")) throw new S3Error("IncompleteBody", `bad aws-chunked chunk header "${header.slice(0, 80)}"`);
    const size = parseInt(sizeText!, 16);
    const given = extensions.find((e) => e.startsWith("chunk-signature="))?.slice("chunk-signature=".length);
    if (signing && !given) throw new S3Error("SignatureDoesNotMatch", "a chunk of a signed aws-chunked body has no signature");

    const hash: Hash | undefined = signing ? createHash("sha256") : undefined;
    for (let remaining = size; remaining > 0; ) {
      const piece = await reader.bytes(remaining);
      hash?.update(piece);
      remaining -= piece.length;
      decoded += piece.length;
      if (options.decodedLength !== undefined && decoded > options.decodedLength) {
        throw new S3Error("IncompleteBody", "the body is longer than x-amz-decoded-content-length");
      }
      yield piece;
    }
    if (signing) {
      const expected = chunkSignature(signing.key, signing.amzDate, signing.scope, previous, hash!.digest("hex"));
      if (!signaturesMatch(given!, expected)) throw new S3Error("SignatureDoesNotMatch", "an aws-chunked chunk signature does not match");
      previous = expected;
    }
    if (size === 0) break;
    if (!(await reader.exact(2)).equals(CRLF)) throw new S3Error("IncompleteBody", "an aws-chunked chunk is not followed by CRLF");
  }

  // Trailing headers, then an empty line.
  const trailers: Record<string, string> = {};
  let trailerText = "";
  let trailerSig: string | undefined;
  for (;;) {
    const line = await reader.line();
    if (line === "") break;
    const colon = line.indexOf(":");
    if (colon <= 0) throw new S3Error("IncompleteBody", "malformed aws-chunked trailer");
    const name = line.slice(0, colon).trim().toLowerCase();
    const value = line.slice(colon + 1).trim();
    if (name === "x-amz-trailer-signature") trailerSig = value;
    else {
      trailers[name] = value;
      trailerText += `${name}:${value}\n`;
    }
  }
  if (signing && trailerText !== "") {
    const expected = trailerSignature(signing.key, signing.amzDate, signing.scope, previous, trailerText);
    if (!trailerSig || !signaturesMatch(trailerSig, expected)) throw new S3Error("SignatureDoesNotMatch", "the aws-chunked trailer signature does not match");
  }
  if (!(await reader.atEnd())) throw new S3Error("IncompleteBody", "bytes after the end of the aws-chunked body");
  if (options.decodedLength !== undefined && decoded !== options.decodedLength) {
    throw new S3Error("IncompleteBody", `decoded ${decoded} bytes, x-amz-decoded-content-length says ${options.decodedLength}`);
  }
  return trailers;
}

/**
 * Lines and byte counts out of an async byte stream. Received pieces are
 * queued as they are; only a line that straddles two pieces is copied.
 */
class LineReader {
  private queue: Buffer[] = [];
  private done = false;

  constructor(private readonly source: AsyncIterator<Uint8Array>) {}

  private async fill(): Promise<boolean> {
    if (this.done) return false;
    const next = await this.source.next();
    if (next.done) {
      this.done = true;
      return false;
    }
    const value = next.value;
    if (value.length > 0) this.queue.push(Buffer.from(value.buffer, value.byteOffset, value.byteLength));
    return true;
  }

  private get buffered(): number {
    return this.queue.reduce((sum, b) => sum + b.length, 0);
  }

  /** Joins the head of the queue until it holds `n` bytes (small n only). */
  private joinHead(n: number): Buffer {
    while (this.queue.length > 1 && this.queue[0]!.length < n) {
      const [a, b] = [this.queue.shift()!, this.queue.shift()!];
      this.queue.unshift(Buffer.concat([a, b]));
    }
    return this.queue[0] ?? Buffer.alloc(0);
  }

  /** The next CRLF-terminated line, without the CRLF. */
  async line(): Promise<string> {
    for (;;) {
      const head = this.joinHead(Math.min(this.buffered, MAX_LINE + 2));
      const end = head.indexOf(CRLF);
      if (end >= 0) {
        const line = head.toString("latin1", 0, end);
        this.consume(end + 2);
        return line;
      }
      if (head.length > MAX_LINE) throw new S3Error("IncompleteBody", "aws-chunked line too long");
      if (!(await this.fill())) throw new S3Error("IncompleteBody", "the aws-chunked body ended early");
    }
  }

  private consume(n: number): void {
    const head = this.queue[0]!;
    if (n === head.length) this.queue.shift();
    else this.queue[0] = head.subarray(n);
  }

  /** Exactly `n` bytes (n small). */
  async exact(n: number): Promise<Buffer> {
    while (this.buffered < n) if (!(await this.fill())) throw new S3Error("IncompleteBody", "the aws-chunked body ended early");
    const piece = Buffer.from(this.joinHead(n).subarray(0, n));
    this.consume(n);
    return piece;
  }

  /** Up to `max` bytes (at least one), without copying. */
  async bytes(max: number): Promise<Buffer> {
    while (this.queue.length === 0) if (!(await this.fill())) throw new S3Error("IncompleteBody", "the aws-chunked body ended early");
    const head = this.queue[0]!;
    const piece = head.subarray(0, Math.min(max, head.length));
    this.consume(piece.length);
    return piece;
  }

  async atEnd(): Promise<boolean> {
    while (this.queue.length === 0) if (!(await this.fill())) return true;
    return false;
  }
}
