import type { PartsResponse } from "../../http/response-body.ts";
import type { ObjectRow } from "../../schema.ts";
import { checkConditions } from "../conditions.ts";
import type { S3Context } from "../context.ts";
import { S3Error } from "../errors.ts";
import { checksumHeaders, withOverrides } from "../object-headers.ts";
import { parseRange } from "../range.ts";
import { requireBucket } from "./bucket.ts";

/** GetObject and HeadObject, with Range and the conditional headers. */
export async function getObject(ctx: S3Context, bucket: string, key: string, head: boolean): Promise<Response | PartsResponse> {
  // An object exists only in a bucket (a bucket with objects is not deleted): the bucket is looked up only to say which is missing.
  const row = await ctx.meta.getObject(bucket, key);
  if (!row) {
    await requireBucket(ctx, bucket);
    throw new S3Error("NoSuchKey", "the specified key does not exist");
  }
  const notModified = checkConditions(ctx.request.headers, row);
  const base = withOverrides(
    { etag: row.etag, "last-modified": row.lastModified.toUTCString(), "accept-ranges": "bytes", "content-type": "binary/octet-stream", ...row.headers },
    ctx.url.searchParams,
  );
  if (notModified) return new Response(null, { status: 304, headers: { etag: row.etag, "last-modified": base["last-modified"]! } });

  const partNumber = ctx.url.searchParams.get("partNumber");
  const range = partNumber === null ? parseRange(ctx.request.headers.get("range"), row.size) : partRange(row, partNumber, ctx.request.headers.has("range"));
  if (range === "unsatisfiable") {
    throw new S3Error("InvalidRange", "the requested range is not satisfiable", { "content-range": `bytes */${row.size}` });
  }
  const [start, end] = range ?? [0, row.size];
  const headers = {
    ...base,
    "content-length": String(end - start),
    ...(range ? { "content-range": `bytes ${start}-${end - 1}/${row.size}` } : checksumHeaders(row.checksums)),
    // Only a multipart object counts its parts (S3 API Reference, GetObject: PartsCount).
    ...(partNumber !== null && row.partSizes ? { "x-amz-mp-parts-count": String(row.partSizes.length) } : {}),
  };
  const status = range ? 206 : 200;
  if (head) return new Response(null, { status, headers });
  return objectBody(ctx, row, start, end, { status, headers });
}

/**
 * The bytes of `?partNumber=N` (S3 API Reference, GetObject: "effectively a
 * ranged GET of the part"): part N of a multipart object; of any other
 * object, part 1 is the whole object (undefined: no range). Other numbers are
 * 416 InvalidPartNumber.
 */
function partRange(row: ObjectRow, text: string, withRange: boolean): [number, number] | undefined {
  if (withRange) throw new S3Error("InvalidRequest", "a Range header and partNumber cannot be used together");
  const n = /^\d{1,5}$/.test(text) ? Number(text) : NaN;
  if (!(n >= 1 && n <= 10_000)) throw new S3Error("InvalidArgument", "partNumber must be an integer between 1 and 10000");
  const sizes = row.partSizes;
  if (!sizes) {
    if (n === 1) return undefined;
    throw new S3Error("InvalidPartNumber", `the object has one part; part ${n} does not exist`);
  }
  if (n > sizes.length) throw new S3Error("InvalidPartNumber", `the object has ${sizes.length} parts; part ${n} does not exist`);
  const start = sizes.slice(0, n - 1).reduce((sum, size) => sum + size, 0);
  return [start, start + sizes[n - 1]!];
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
 * The object's bytes [start, end) as a response body: each chunk range as the
 * store opens it — a part of a local file, sent with sendfile by the S3
 * listener, or a stream from storage nodes. Either way each chunk is checked
 * against its CRC32 before its last bytes go, so a chunk that cannot be read
 * intact ends the response early: the client sees a short body, never a whole
 * wrong one.
 */
async function objectBody(ctx: S3Context, row: ObjectRow, start: number, end: number, init: { status: number; headers: Record<string, string> }): Promise<PartsResponse> {
  const ranges = chunkRanges(row, start, end);
  // Held from the metadata lookup on (no await since): an overwrite now cannot take the chunks away.
  const release = ctx.readers.hold(ranges.map((r) => r.id)); // idempotent
  try {
    const parts: PartsResponse["parts"] = [];
    for (const { id, from, to } of ranges) {
      const part = await ctx.chunks.open(id, from, to);
      if (!part) throw missingChunk(row, id);
      parts.push(part);
    }
    return { status: init.status, headers: new Headers(init.headers), parts, release };
  } catch (err) {
    release();
    throw err;
  }
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
