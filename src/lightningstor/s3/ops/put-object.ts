import type { ObjectRow } from "../../schema.ts";
import { receiveBody } from "../body.ts";
import { ChunkWriter } from "../chunk-writer.ts";
import type { S3Context } from "../context.ts";
import { checksumHeaders, objectHeaders } from "../object-headers.ts";
import { requireBucket } from "./bucket.ts";
import { deleteChunks } from "./delete-object.ts";

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
