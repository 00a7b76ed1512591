import type { ObjectRow } from "../../schema.ts";
import { isMetadataUnavailable } from "../../../db/open-store-db.ts";
import { receiveBody } from "../body.ts";
import { ChunkWriter } from "../chunk-writer.ts";
import { storageFull } from "../errors.ts";
import type { S3Context } from "../context.ts";
import { checkWriteConditions } from "../conditions.ts";
import { checksumHeaders, objectHeaders } from "../object-headers.ts";
import { requireBucket } from "./bucket.ts";
import { deleteChunks } from "./delete-object.ts";

/**
 * A writer of new chunks, once the space held back for deletes is in place
 * (db/disk-reserve.ts): otherwise the disk is full and the write is refused
 * with 507 before any byte of it is taken.
 */
export function chunkWriter(ctx: S3Context): ChunkWriter {
  if (!ctx.meta.reserveInPlace()) throw storageFull();
  return new ChunkWriter(ctx.chunks);
}

/**
 * Streams the request body into chunks of up to 16 MiB, each stored durably,
 * and checks every digest. On any failure the chunks written so far are
 * deleted and the error is thrown.
 */
export async function storeBody(ctx: S3Context) {
  const writer = chunkWriter(ctx);
  try {
    const received = await receiveBody(ctx.request, ctx.auth.payload, (piece) => writer.push(piece));
    return { chunks: await writer.finish(), ...received };
  } catch (err) {
    await writer.abort();
    throw err;
  }
}

/**
 * PutObject: the object becomes visible in one transaction only after every
 * chunk is durable and every digest checked out; a failed upload leaves the
 * previous version in place. If-None-Match / If-Match are checked before the
 * body is read (to fail fast) and again in that transaction (to be atomic).
 */
export async function putObject(ctx: S3Context, bucket: string, key: string): Promise<Response> {
  await requireBucket(ctx, bucket);
  checkWriteConditions(ctx.request.headers, await ctx.meta.getObject(bucket, key));
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
    uploadId: null,
    partSizes: null,
  };
  await commitObject(ctx, row);
  return new Response(null, { status: 200, headers: { etag: row.etag, ...checksumHeaders(row.checksums) } });
}

/**
 * Makes a new object with chunks of its own visible, under the request's
 * write conditions; the version it replaces loses its chunks, and when a
 * condition fails the new chunks go instead.
 */
export async function commitObject(ctx: S3Context, row: ObjectRow): Promise<void> {
  let replaced: { id: string }[];
  try {
    replaced = await ctx.meta.putObject(row, (current) => checkWriteConditions(ctx.request.headers, current));
  } catch (err) {
    // A database that went away mid-commit may have committed: the chunks stay, for GC to take if unreferenced.
    if (!isMetadataUnavailable(err)) await deleteChunks(ctx, row.chunks);
    throw err;
  }
  await deleteChunks(ctx, replaced);
}
