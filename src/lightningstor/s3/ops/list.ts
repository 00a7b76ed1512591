import type { S3Context } from "../context.ts";
import { S3Error } from "../errors.ts";
import { uriEncode } from "../sigv4.ts";
import { xmlResponse } from "../xml.ts";
import type { ObjectRow } from "../../schema.ts";
import { ownerOf } from "../owner.ts";

/**
 * ListObjects (v1, marker) and ListObjectsV2 (continuation-token,
 * start-after): prefix, delimiter with CommonPrefixes, max-keys, encoding-type=url.
 */
export async function listObjects(ctx: S3Context, bucket: string, v2: boolean): Promise<Response> {
  if (!(await ctx.meta.bucketExists(bucket))) throw new S3Error("NoSuchBucket", "the specified bucket does not exist");
  const q = ctx.url.searchParams;
  const prefix = q.get("prefix") ?? "";
  const delimiter = q.get("delimiter") ?? "";
  const maxKeysText = q.get("max-keys");
  const maxKeys = maxKeysText === null ? 1000 : Number(maxKeysText);
  if (!Number.isInteger(maxKeys) || maxKeys < 0) throw new S3Error("InvalidArgument", "max-keys must be a non-negative integer");
  const encodingType = q.get("encoding-type");
  if (encodingType !== null && encodingType !== "url") throw new S3Error("InvalidArgument", "encoding-type must be url");
  const encode = (text: string) => (encodingType === "url" ? uriEncode(text, false) : text);
  const token = q.get("continuation-token");
  const marker = q.get("marker");
  const startAfter = q.get("start-after");
  let after = (v2 ? startAfter : marker) ?? "";
  if (v2 && token !== null) after = decodeToken(token);
  // A marker that is a common prefix (a v1 NextMarker) is past every key rolled up into it.
  const markerPrefix = commonPrefix(after, prefix, delimiter);
  if (markerPrefix === after) after = skipPast(markerPrefix);

  const contents: ObjectRow[] = [];
  const prefixes: string[] = [];
  /** Where the scan is: the last key seen, or past the last common prefix. */
  let position = after;
  /** The last key or common prefix put in the result. */
  let lastReturned: string | undefined;
  // Scan in key order; a run of keys under one common prefix counts once and is skipped past.
  while (contents.length + prefixes.length < maxKeys) {
    const batch = await ctx.meta.listObjects(bucket, prefix, position, 1000);
    if (batch.length === 0) break;
    for (const row of batch) {
      const common = commonPrefix(row.key, prefix, delimiter);
      if (common !== undefined) {
        prefixes.push(common);
        lastReturned = common;
        position = skipPast(common);
        break;
      }
      contents.push(row);
      lastReturned = position = row.key;
      if (contents.length + prefixes.length >= maxKeys) break;
    }
  }
  const truncated = contents.length + prefixes.length >= maxKeys && maxKeys > 0 && (await ctx.meta.listObjects(bucket, prefix, position, 1)).length > 0;
  const owner = ownerOf(ctx);
  const body: Record<string, unknown> = {
    Name: bucket,
    Prefix: encode(prefix),
    ...(delimiter ? { Delimiter: encode(delimiter) } : {}),
    MaxKeys: maxKeys,
    ...(encodingType ? { EncodingType: encodingType } : {}),
    IsTruncated: truncated,
    Contents: contents.map((row) => ({
      Key: encode(row.key),
      LastModified: row.lastModified.toISOString(),
      ETag: row.etag,
      Size: row.size,
      StorageClass: "STANDARD",
      // v1 always names the owner; v2 only with fetch-owner=true.
      ...(!v2 || q.get("fetch-owner") === "true" ? { Owner: owner } : {}),
    })),
    CommonPrefixes: prefixes.map((p) => ({ Prefix: encode(p) })),
  };
  if (v2) {
    body.KeyCount = contents.length + prefixes.length;
    if (token !== null) body.ContinuationToken = token;
    if (startAfter !== null) body.StartAfter = encode(startAfter);
    if (truncated) body.NextContinuationToken = Buffer.from(position).toString("base64url");
  } else {
    body.Marker = encode(marker ?? "");
    // The last key or common prefix returned, only with a delimiter (S3 API Reference, ListObjects); never the skip position.
    if (truncated && delimiter && lastReturned !== undefined) body.NextMarker = encode(lastReturned);
  }
  return xmlResponse("ListBucketResult", body);
}

/** The common prefix a key rolls up into (prefix + up to the first delimiter after it), if any. */
function commonPrefix(key: string, prefix: string, delimiter: string): string | undefined {
  if (delimiter === "" || !key.startsWith(prefix)) return undefined;
  const cut = key.indexOf(delimiter, prefix.length);
  return cut < 0 ? undefined : key.slice(0, cut + delimiter.length);
}

/** A position after every key that starts with `common`. */
function skipPast(common: string): string {
  return common + "\u{10FFFF}";
}

function decodeToken(token: string): string {
  const decoded = Buffer.from(token, "base64url").toString("utf8");
  if (Buffer.from(decoded).toString("base64url") !== token) throw new S3Error("InvalidArgument", "the continuation token is not valid");
  return decoded;
}
