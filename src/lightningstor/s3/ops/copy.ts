import { createHash } from "node:crypto";
import type { ObjectRow } from "../../schema.ts";
import type { S3Context } from "../context.ts";
import { S3Error } from "../errors.ts";
import { xmlResponse } from "../xml.ts";
import { checkConditions, checkWriteConditions } from "../conditions.ts";
import { objectHeaders } from "../object-headers.ts";
import { parseCopySourceRange } from "../range.ts";
import type { CopySource } from "../router.ts";
import { requireBucket } from "./bucket.ts";
import { chunkRanges, readRange } from "./get-object.ts";
import { recordPart } from "./multipart.ts";
import { chunkWriter, commitObject } from "./put-object.ts";

/** The object named by x-amz-copy-source, after its conditionals. */
async function copySource(ctx: S3Context, { bucket, key }: CopySource): Promise<ObjectRow> {
  await requireBucket(ctx, bucket);
  const row = await ctx.meta.getObject(bucket, key);
  if (!row) throw new S3Error("NoSuchKey", "the copy source does not exist");
  // x-amz-copy-source-if-* follow the GET conditionals, except that "not modified" is also a 412.
  const prefixed = new Headers();
  for (const name of ["if-match", "if-none-match", "if-modified-since", "if-unmodified-since"]) {
    const value = ctx.request.headers.get(`x-amz-copy-source-${name}`);
    if (value !== null) prefixed.set(name, value);
  }
  if (checkConditions(prefixed, row)) throw new S3Error("PreconditionFailed", "at least one of the preconditions you specified did not hold");
  return row;
}

/** Copies bytes [start, end) of an object into new chunks (chunks are never shared between objects). */
async function copyBytes(ctx: S3Context, source: ObjectRow, start: number, end: number): Promise<{ chunks: { id: string; size: number }[]; md5Hex: string }> {
  const writer = chunkWriter(ctx);
  const md5 = createHash("md5");
  try {
    for (const range of chunkRanges(source, start, end)) {
      const piece = await readRange(ctx, source, range);
      md5.update(piece);
      await writer.push(piece);
    }
    return { chunks: await writer.finish(), md5Hex: md5.digest("hex") };
  } catch (err) {
    await writer.abort();
    throw err;
  }
}

/** CopyObject, with the COPY (default) or REPLACE metadata directive. */
export async function copyObject(ctx: S3Context, bucket: string, key: string, from: CopySource): Promise<Response> {
  await requireBucket(ctx, bucket);
  const source = await copySource(ctx, from);
  checkWriteConditions(ctx.request.headers, await ctx.meta.getObject(bucket, key));
  const directive = ctx.request.headers.get("x-amz-metadata-directive") ?? "COPY";
  if (directive !== "COPY" && directive !== "REPLACE") throw new S3Error("InvalidArgument", "x-amz-metadata-directive must be COPY or REPLACE");
  if (directive === "COPY" && source.bucket === bucket && source.key === key) {
    throw new S3Error("InvalidRequest", "copying an object onto itself needs the REPLACE metadata directive");
  }
  const { chunks } = await copyBytes(ctx, source, 0, source.size);
  const row: ObjectRow = {
    bucket,
    key,
    size: source.size,
    etag: source.etag,
    chunks,
    headers: directive === "REPLACE" ? objectHeaders(ctx.request) : source.headers,
    checksums: source.checksums,
    lastModified: new Date(),
    uploadId: null,
    // The ETag is the source's, so are the parts it names.
    partSizes: source.partSizes,
  };
  await commitObject(ctx, row);
  return xmlResponse("CopyObjectResult", { ETag: row.etag, LastModified: row.lastModified.toISOString() });
}

/** UploadPartCopy, optionally of x-amz-copy-source-range. */
export async function uploadPartCopy(ctx: S3Context, bucket: string, key: string, uploadId: string, partNumber: number, from: CopySource): Promise<Response> {
  if (!(await ctx.meta.getUpload(bucket, key, uploadId))) throw new S3Error("NoSuchUpload", "the specified multipart upload does not exist");
  if (!Number.isInteger(partNumber) || partNumber < 1 || partNumber > 10_000) throw new S3Error("InvalidArgument", "part number must be between 1 and 10000");
  const source = await copySource(ctx, from);
  const rangeHeader = ctx.request.headers.get("x-amz-copy-source-range");
  const [start, end] = rangeHeader === null ? [0, source.size] : parseCopySourceRange(rangeHeader, source.size);
  const { chunks, md5Hex } = await copyBytes(ctx, source, start, end);
  const etag = `"${md5Hex}"`;
  const lastModified = new Date();
  await recordPart(ctx, { uploadId, partNumber, size: end - start, etag, chunks, checksums: {}, lastModified });
  return xmlResponse("CopyPartResult", { ETag: etag, LastModified: lastModified.toISOString() });
}
