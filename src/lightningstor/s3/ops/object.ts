import { XMLParser } from "fast-xml-parser";
import { type FilePart, withFileBody } from "../../http/file-body.ts";
import type { ObjectRow } from "../../schema.ts";
import { receiveBody } from "../body.ts";
import { ChunkWriter } from "../chunk-writer.ts";
import type { S3Context } from "../context.ts";
import { S3Error } from "../errors.ts";
import { xmlResponse } from "../xml.ts";

/** Request headers stored with an object and returned on GET/HEAD. */
const storedHeaders = ["content-type", "content-encoding", "content-disposition", "content-language", "cache-control", "expires"];
/** GET query parameters that override response headers. */
const overrides: Record<string, string> = {
  "response-content-type": "content-type",
  "response-content-language": "content-language",
  "response-expires": "expires",
  "response-cache-control": "cache-control",
  "response-content-disposition": "content-disposition",
  "response-content-encoding": "content-encoding",
};

export function requireBucket(ctx: S3Context, bucket: string): void {
  if (!ctx.meta.bucketExists(bucket)) throw new S3Error("NoSuchBucket", "the specified bucket does not exist");
}

/**
 * Streams the request body into chunks of up to 16 MiB, each stored durably,
 * and checks every digest. On any failure the chunks written so far are
 * deleted and the error is thrown.
 */
export async function storeBody(ctx: S3Context) {
  const writer = new ChunkWriter(ctx.chunks);
  try {
    const received = await receiveBody(ctx.request, ctx.auth.payload, (piece) => writer.push(piece));
    return { chunks: await writer.finish(), ...received };
  } catch (err) {
    await writer.abort();
    throw err;
  }
}

/** The headers stored with an object: Content-* and friends (minus aws-chunked), and x-amz-meta-*. */
export function objectHeaders(request: Request): Record<string, string> {
  const headers: Record<string, string> = {};
  for (const name of storedHeaders) {
    let value = request.headers.get(name);
    if (name === "content-encoding" && value) value = value.split(",").map((v) => v.trim()).filter((v) => v !== "aws-chunked").join(",");
    if (value) headers[name] = value;
  }
  for (const [name, value] of request.headers) if (name.startsWith("x-amz-meta-")) headers[name] = value;
  return headers;
}

/**
 * PutObject: the object becomes visible in one transaction only after every
 * chunk is durable and every digest checked out; a failed upload leaves the
 * previous version in place.
 */
export async function putObject(ctx: S3Context, bucket: string, key: string): Promise<Response> {
  requireBucket(ctx, bucket);
  const body = await storeBody(ctx);
  const row: ObjectRow = {
    bucket,
    key,
    size: body.size,
    etag: `"${body.md5Hex}"`,
    chunks: body.chunks,
    headers: objectHeaders(ctx.request),
    checksums: body.checksums,
    lastModified: new Date(),
  };
  await deleteChunks(ctx, ctx.meta.putObject(row));
  return new Response(null, { status: 200, headers: { etag: row.etag, ...checksumHeaders(row.checksums) } });
}

/** GetObject and HeadObject, with Range and the conditional headers. */
export async function getObject(ctx: S3Context, bucket: string, key: string, head: boolean): Promise<Response> {
  requireBucket(ctx, bucket);
  const row = ctx.meta.getObject(bucket, key);
  if (!row) throw new S3Error("NoSuchKey", "the specified key does not exist");
  const notModified = checkConditions(ctx.request.headers, row);
  const base: Record<string, string> = {
    etag: row.etag,
    "last-modified": row.lastModified.toUTCString(),
    "accept-ranges": "bytes",
    "content-type": "binary/octet-stream",
    ...row.headers,
  };
  for (const [param, header] of Object.entries(overrides)) {
    const value = ctx.url.searchParams.get(param);
    if (value !== null) base[header] = value;
  }
  if (notModified) return new Response(null, { status: 304, headers: { etag: row.etag, "last-modified": base["last-modified"]! } });

  const range = parseRange(ctx.request.headers.get("range"), row.size);
  if (range === "unsatisfiable") {
    throw new S3Error("InvalidRange", "the requested range is not satisfiable", { "content-range": `bytes */${row.size}` });
  }
  const [start, end] = range ?? [0, row.size];
  const headers = { ...base, "content-length": String(end - start), ...(range ? { "content-range": `bytes ${start}-${end - 1}/${row.size}` } : checksumHeaders(row.checksums)) };
  const status = range ? 206 : 200;
  if (head) return new Response(null, { status, headers });
  return objectBody(ctx, row, start, end, { status, headers });
}

export async function deleteObject(ctx: S3Context, bucket: string, key: string): Promise<Response> {
  requireBucket(ctx, bucket);
  await deleteChunks(ctx, ctx.meta.deleteObject(bucket, key));
  return new Response(null, { status: 204 });
}

export async function deleteChunks(ctx: S3Context, chunks: { id: string }[]): Promise<void> {
  const results = await Promise.allSettled(chunks.map((c) => ctx.readers.delete(c.id, () => ctx.chunks.delete(c.id))));
  for (const result of results) {
    if (result.status === "rejected") ctx.log.warn("chunk not deleted; it will be collected later", { error: String(result.reason) });
  }
}

/** A chunk holding some of an object's wanted bytes: [from, to) of it. */
export interface ChunkRange {
  id: string;
  from: number;
  to: number;
}

/** The chunks holding the object's bytes [start, end), and which part of each. */
export function chunkRanges(row: ObjectRow, start: number, end: number): ChunkRange[] {
  const ranges: ChunkRange[] = [];
  let chunkStart = 0;
  for (const chunk of row.chunks) {
    const chunkEnd = chunkStart + chunk.size;
    if (chunkEnd > start && chunkStart < end) ranges.push({ id: chunk.id, from: Math.max(0, start - chunkStart), to: Math.min(chunk.size, end - chunkStart) });
    chunkStart = chunkEnd;
  }
  return ranges;
}

/**
 * The object's bytes [start, end) as a response body. Chunks in local files
 * are sent with sendfile by the S3 listener (see http/file-body.ts), chunks on
 * storage nodes are streamed through; either way each chunk is checked against
 * its CRC32 before its last bytes go, so a chunk that cannot be read intact
 * ends the response early: the client sees a short body, never a whole wrong one.
 */
async function objectBody(ctx: S3Context, row: ObjectRow, start: number, end: number, init: ResponseInit): Promise<Response> {
  const ranges = chunkRanges(row, start, end);
  // Held from the metadata lookup on (no await since): an overwrite now cannot take the chunks away.
  const release = ctx.readers.hold(ranges.map((r) => r.id)); // idempotent
  const { localFile, read } = ctx.chunks;
  if (!localFile) {
    if (!read) throw new Error("the chunk store can neither send files nor stream chunks");
    return new Response(streamRanges(ranges, (r) => read.call(ctx.chunks, r.id, r.from, r.to), release), init);
  }
  try {
    const parts: FilePart[] = [];
    for (const { id, from, to } of ranges) {
      const file = await localFile.call(ctx.chunks, id);
      if (!file) throw missingChunk(row, id);
      parts.push({ path: file.path, offset: from, length: to - from, check: { size: file.size, crc32: file.crc32 } });
    }
    return withFileBody(new Response(null, init), { parts, release });
  } catch (err) {
    release();
    throw err;
  }
}

/** The ranges' bytes, one after the other, as a stream. */
function streamRanges(ranges: ChunkRange[], read: (range: ChunkRange) => AsyncIterable<Uint8Array>, release: () => void): ReadableStream<Uint8Array> {
  const iterator = (async function* () {
    for (const range of ranges) yield* read(range);
  })();
  return new ReadableStream<Uint8Array>(
    {
      async pull(controller) {
        try {
          const { done, value } = await iterator.next();
          if (!done) return controller.enqueue(value);
          release();
          controller.close();
        } catch (err) {
          release();
          controller.error(err);
        }
      },
      async cancel() {
        release();
        await iterator.return(undefined);
      },
    },
    { highWaterMark: 0 },
  );
}

/** A range of one chunk, read whole and verified. */
export async function readRange(ctx: S3Context, row: ObjectRow, { id, from, to }: ChunkRange): Promise<Uint8Array> {
  const data = await ctx.chunks.get(id);
  if (!data) throw missingChunk(row, id);
  return data.subarray(from, to);
}

function missingChunk(row: ObjectRow, id: string): Error {
  return new Error(`chunk ${id} of ${row.bucket}/${row.key} is missing`);
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

/** RFC 9110 conditionals; throws PreconditionFailed, returns true for "not modified". */
export function checkConditions(headers: Headers, row: ObjectRow): boolean {
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

/** `bytes=a-b`, `bytes=a-` or `bytes=-n` as [start, end); undefined for none (or one we ignore, like several ranges). */
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

/** DeleteObjects: up to 1000 keys, Quiet or verbose; missing keys count as deleted, as in S3. */
export async function deleteObjects(ctx: S3Context, bucket: string): Promise<Response> {
  requireBucket(ctx, bucket);
  let doc: { Delete?: { Quiet?: string; Object?: { Key?: string }[] } };
  try {
    doc = deleteParser.parse(await ctx.request.text());
  } catch {
    throw new S3Error("MalformedXML", "the XML you provided was not well-formed");
  }
  const entries = doc.Delete?.Object ?? [];
  if (!doc.Delete || entries.length === 0 || entries.length > 1000) throw new S3Error("MalformedXML", "the request must name between 1 and 1000 objects");
  const quiet = String(doc.Delete.Quiet ?? "false").toLowerCase() === "true";
  const deleted: { Key: string }[] = [];
  const errors: { Key: string; Code: string; Message: string }[] = [];
  for (const entry of entries) {
    const key = String(entry.Key ?? "");
    if (key === "" || Buffer.byteLength(key) > 1024) {
      errors.push({ Key: key, Code: "InvalidArgument", Message: "invalid key" });
      continue;
    }
    await deleteChunks(ctx, ctx.meta.deleteObject(bucket, key));
    deleted.push({ Key: key });
  }
  return xmlResponse("DeleteResult", { ...(quiet ? {} : { Deleted: deleted }), Error: errors });
}

const deleteParser = new XMLParser({ parseTagValue: false, isArray: (name) => name === "Object" });
