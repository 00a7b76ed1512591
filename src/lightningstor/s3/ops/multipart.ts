import { createHash } from "node:crypto";
import type { ObjectRow, PartRow } from "../../schema.ts";
import { type Algorithm, checksumHasher } from "../body.ts";
import type { S3Context } from "../context.ts";
import { S3Error } from "../errors.ts";
import { xmlResponse } from "../xml.ts";
import { children, readXmlBody, textChildren } from "../xml-request.ts";
import { checkWriteConditions } from "../conditions.ts";
import { checksumHeaders, objectHeaders } from "../object-headers.ts";
import { requireBucket } from "./bucket.ts";
import { deleteChunks } from "./delete-object.ts";
import { storeBody } from "./put-object.ts";

/** Parts other than the last must be at least this large (S3 multipart limits). */
const MIN_PART_SIZE = 5 * 1024 * 1024;
const MAX_PART_NUMBER = 10_000;

async function mustUpload(ctx: S3Context, bucket: string, key: string, uploadId: string) {
  const upload = await ctx.meta.getUpload(bucket, key, uploadId);
  if (!upload) throw new S3Error("NoSuchUpload", "the specified multipart upload does not exist");
  return upload;
}

/** CreateMultipartUpload: headers and metadata are kept for the final object. */
export async function createUpload(ctx: S3Context, bucket: string, key: string): Promise<Response> {
  await requireBucket(ctx, bucket);
  const id = crypto.randomUUID().replaceAll("-", "");
  await ctx.meta.createUpload({ id, bucket, key, headers: objectHeaders(ctx.request), createdAt: new Date() });
  return xmlResponse("InitiateMultipartUploadResult", { Bucket: bucket, Key: key, UploadId: id });
}

/** UploadPart: stored like an object body; a re-upload of a part number replaces it. */
export async function uploadPart(ctx: S3Context, bucket: string, key: string, uploadId: string, partNumber: number): Promise<Response> {
  if (!Number.isInteger(partNumber) || partNumber < 1 || partNumber > MAX_PART_NUMBER) {
    throw new S3Error("InvalidArgument", `part number must be an integer between 1 and ${MAX_PART_NUMBER}`);
  }
  await mustUpload(ctx, bucket, key, uploadId);
  const body = await storeBody(ctx);
  const etag = `"${body.md5Hex}"`;
  await recordPart(ctx, { uploadId, partNumber, size: body.size, etag, chunks: body.chunks, checksums: body.checksums, lastModified: new Date() });
  return new Response(null, { status: 200, headers: { etag, ...checksumHeaders(body.checksums) } });
}

/**
 * Records a stored part: the part number's previous chunks go; when the
 * upload was completed or aborted while the part was arriving, its own go
 * and the answer is NoSuchUpload.
 */
export async function recordPart(ctx: S3Context, part: PartRow): Promise<void> {
  const replaced = await ctx.meta.putPart(part);
  if (replaced === undefined) {
    await deleteChunks(ctx, part.chunks);
    throw new S3Error("NoSuchUpload", "the multipart upload was completed or aborted while the part was uploaded");
  }
  await deleteChunks(ctx, replaced);
}

/**
 * CompleteMultipartUpload: the listed parts, in ascending order with matching
 * ETags and all but the last at least 5 MiB, become the object in one
 * transaction. Its ETag is the MD5 of the parts' MD5s, suffixed with the count.
 */
export async function completeUpload(ctx: S3Context, bucket: string, key: string, uploadId: string): Promise<Response> {
  await requireBucket(ctx, bucket);
  const doc = children(await readXmlBody(ctx.request, ctx.auth.payload, ["Part"]), "CompleteMultipartUpload")[0];
  const requested: RequestedPart[] = children(doc, "Part").map(textChildren);
  if (requested.length === 0) throw new S3Error("MalformedXML", "the request must list at least one part");
  const upload = await ctx.meta.getUpload(bucket, key, uploadId);
  if (!upload) return await completedAgain(ctx, bucket, key, uploadId, requested);
  checkWriteConditions(ctx.request.headers, await ctx.meta.getObject(bucket, key));
  const stored = new Map((await ctx.meta.listParts(uploadId)).map((p) => [p.partNumber, p]));
  const chosen = requested.map((r, i) => {
    const number = Number(r.PartNumber);
    if (i > 0 && number <= Number(requested[i - 1]!.PartNumber)) throw new S3Error("InvalidPartOrder", "the list of parts was not in ascending order");
    const part = stored.get(number);
    const etag = String(r.ETag ?? "").trim();
    if (!part || (etag !== part.etag && `"${etag}"` !== part.etag)) throw new S3Error("InvalidPart", `part ${r.PartNumber} was not uploaded or its ETag does not match`);
    for (const [alg, value] of Object.entries(r)) {
      const name = alg.startsWith("Checksum") ? alg.slice("Checksum".length).toLowerCase() : undefined;
      if (name && String(value) !== part.checksums[name]) throw new S3Error("InvalidPart", `the ${name.toUpperCase()} of part ${r.PartNumber} does not match the one uploaded`);
    }
    return part;
  });
  chosen.forEach((part, i) => {
    if (i < chosen.length - 1 && part.size < MIN_PART_SIZE) throw new S3Error("EntityTooSmall", `part ${part.partNumber} is smaller than 5 MiB`);
  });
  const row: ObjectRow = {
    bucket,
    key,
    size: chosen.reduce((sum, p) => sum + p.size, 0),
    etag: multipartEtag(chosen.map((p) => p.etag)),
    chunks: chosen.flatMap((p) => p.chunks),
    headers: upload.headers,
    checksums: await compositeChecksums(chosen),
    lastModified: new Date(),
    uploadId,
    partSizes: chosen.map((p) => p.size),
  };
  const unused = [...stored.values()].filter((p) => !chosen.includes(p)).flatMap((p) => p.chunks);
  // The parts stay (and the upload can be completed again) when a write condition fails.
  const replaced = await ctx.meta.completeUpload(uploadId, row, (current) => checkWriteConditions(ctx.request.headers, current));
  // A concurrent Complete came first: its object stands, and this one is answered as a repeat.
  if (replaced === undefined) return await completedAgain(ctx, bucket, key, uploadId, requested);
  await deleteChunks(ctx, [...replaced, ...unused]);
  return completeResult(row);
}

/**
 * A Complete of an upload already completed, listing the same parts: 200
 * with the object's ETag, as S3 answers it (a client retrying after a lost
 * response must not see NoSuchUpload) — while the object is still the one
 * that upload made.
 */
async function completedAgain(ctx: S3Context, bucket: string, key: string, uploadId: string, requested: RequestedPart[]): Promise<Response> {
  const row = await ctx.meta.getObject(bucket, key);
  if (!row || row.uploadId !== uploadId || row.etag !== multipartEtag(requested.map((r) => r.ETag ?? ""))) {
    throw new S3Error("NoSuchUpload", "the specified multipart upload does not exist");
  }
  return completeResult(row);
}

function completeResult(row: ObjectRow): Response {
  const { bucket, key } = row;
  return xmlResponse("CompleteMultipartUploadResult", { Location: `/${bucket}/${key}`, Bucket: bucket, Key: key, ETag: row.etag, ...checksumElements(row.checksums) });
}

/** A multipart object's ETag: the MD5 of its parts' MD5s, then "-" and the part count. */
function multipartEtag(partEtags: string[]): string {
  const md5s = Buffer.concat(partEtags.map((etag) => Buffer.from(etag.replaceAll('"', "").trim(), "hex")));
  return `"${createHash("md5").update(md5s).digest("hex")}-${partEtags.length}"`;
}

/** A part as CompleteMultipartUpload lists it (Checksum<ALG> elements optional). */
type RequestedPart = Record<string, string | undefined>;

/**
 * The object's checksums from its parts', as S3 makes them: for an algorithm
 * every part has, the checksum of the parts' checksums (raw bytes, in order),
 * suffixed with the part count. CRC64NVME only exists for whole objects, so
 * it has no composite.
 */
async function compositeChecksums(parts: PartRow[]): Promise<Record<string, string>> {
  const checksums: Record<string, string> = {};
  for (const alg of Object.keys(parts[0]?.checksums ?? {}) as Algorithm[]) {
    if (alg === "crc64nvme" || !parts.every((p) => p.checksums[alg])) continue;
    const hasher = checksumHasher(alg);
    for (const part of parts) hasher.update(Buffer.from(part.checksums[alg]!, "base64"));
    checksums[alg] = `${await hasher.digest()}-${parts.length}`;
  }
  return checksums;
}

/** Checksum<ALG> elements (and ChecksumType) for XML results. */
function checksumElements(checksums: Record<string, string>, withType = true): Record<string, string> {
  const entries = Object.entries(checksums);
  const elements = Object.fromEntries(entries.map(([alg, value]) => [`Checksum${alg.toUpperCase()}`, value]));
  return withType && entries.length > 0 ? { ...elements, ChecksumType: "COMPOSITE" } : elements;
}

/** AbortMultipartUpload: the parts and their chunks are removed. */
export async function abortUpload(ctx: S3Context, bucket: string, key: string, uploadId: string): Promise<Response> {
  await mustUpload(ctx, bucket, key, uploadId);
  await deleteChunks(ctx, (await ctx.meta.deleteUpload(uploadId)).flatMap((p) => p.chunks));
  return new Response(null, { status: 204 });
}

/** ListParts (max-parts, part-number-marker). */
export async function listParts(ctx: S3Context, bucket: string, key: string, uploadId: string): Promise<Response> {
  await mustUpload(ctx, bucket, key, uploadId);
  const q = ctx.url.searchParams;
  const maxParts = Number(q.get("max-parts") ?? 1000);
  const marker = Number(q.get("part-number-marker") ?? 0);
  const all = (await ctx.meta.listParts(uploadId)).filter((p) => p.partNumber > marker);
  const page = all.slice(0, maxParts);
  const truncated = all.length > page.length;
  return xmlResponse("ListPartsResult", {
    Bucket: bucket,
    Key: key,
    UploadId: uploadId,
    PartNumberMarker: marker,
    ...(truncated ? { NextPartNumberMarker: page.at(-1)!.partNumber } : {}),
    MaxParts: maxParts,
    IsTruncated: truncated,
    Part: page.map((p) => ({ PartNumber: p.partNumber, LastModified: p.lastModified.toISOString(), ETag: p.etag, Size: p.size, ...checksumElements(p.checksums, false) })),
  });
}

/** ListMultipartUploads (prefix). */
export async function listUploads(ctx: S3Context, bucket: string): Promise<Response> {
  await requireBucket(ctx, bucket);
  const prefix = ctx.url.searchParams.get("prefix") ?? "";
  const uploads = await ctx.meta.listUploads(bucket, prefix);
  return xmlResponse("ListMultipartUploadsResult", {
    Bucket: bucket,
    Prefix: prefix,
    MaxUploads: 1000,
    IsTruncated: false,
    Upload: uploads.map((u) => ({ Key: u.key, UploadId: u.id, Initiated: u.createdAt.toISOString(), StorageClass: "STANDARD" })),
  });
}
