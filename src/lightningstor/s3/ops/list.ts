import type { S3Context } from "../context.ts";
import { S3Error } from "../errors.ts";
import { uriEncode } from "../sigv4.ts";
import { xmlResponse } from "../xml.ts";

/**
 * ListObjects (v1, marker) and ListObjectsV2 (continuation-token,
 * start-after): prefix, delimiter with CommonPrefixes, max-keys, encoding-type=url.
 */
export function listObjects(ctx: S3Context, bucket: string, v2: boolean): Response {
  if (!ctx.meta.bucketExists(bucket)) throw new S3Error("NoSuchBucket", "the specified bucket does not exist");
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
  let after = v2 ? (q.get("start-after") ?? "") : (q.get("marker") ?? "");
  if (v2 && token !== null) after = decodeToken(token);

  const contents: { key: string; row: ReturnType<S3Context["meta"]["getObject"]> }[] = [];
  const prefixes: string[] = [];
  let truncated = false;
  let last = after;
  // Scan in key order; a run of keys under one common prefix counts once and is skipped past.
  while (contents.length + prefixes.length < maxKeys) {
    const batch = ctx.meta.listObjects(bucket, prefix, last, 1000);
    if (batch.length === 0) break;
    for (const row of batch) {
      if (contents.length + prefixes.length >= maxKeys) {
        truncated = true;
        break;
      }
      const rest = row.key.slice(prefix.length);
      const cut = delimiter === "" ? -1 : rest.indexOf(delimiter);
      if (cut >= 0) {
        const common = prefix + rest.slice(0, cut + delimiter.length);
        if (prefixes.at(-1) !== common) prefixes.push(common);
        last = common + "\u{10FFFF}";
        break;
      }
      contents.push({ key: row.key, row });
      last = row.key;
    }
    if (truncated) break;
  }
  if (!truncated && contents.length + prefixes.length >= maxKeys && maxKeys > 0) {
    truncated = ctx.meta.listObjects(bucket, prefix, last, 1).length > 0;
  }
  const nextMarker = last;
  const body: Record<string, unknown> = {
    Name: bucket,
    Prefix: encode(prefix),
    ...(delimiter ? { Delimiter: encode(delimiter) } : {}),
    MaxKeys: maxKeys,
    ...(encodingType ? { EncodingType: encodingType } : {}),
    IsTruncated: truncated,
    Contents: contents.map(({ key, row }) => ({
      Key: encode(key),
      LastModified: row!.lastModified.toISOString(),
      ETag: row!.etag,
      Size: row!.size,
      StorageClass: "STANDARD",
    })),
    CommonPrefixes: prefixes.map((p) => ({ Prefix: encode(p) })),
  };
  if (v2) {
    body.KeyCount = contents.length + prefixes.length;
    if (token !== null) body.ContinuationToken = token;
    if (q.get("start-after") !== null) body.StartAfter = encode(q.get("start-after")!);
    if (truncated) body.NextContinuationToken = Buffer.from(nextMarker).toString("base64url");
  } else {
    body.Marker = encode(q.get("marker") ?? "");
    if (truncated && delimiter) body.NextMarker = encode(nextMarker);
  }
  return xmlResponse("ListBucketResult", body);
}

function decodeToken(token: string): string {
  const decoded = Buffer.from(token, "base64url").toString("utf8");
  if (Buffer.from(decoded).toString("base64url") !== token) throw new S3Error("InvalidArgument", "the continuation token is not valid");
  return decoded;
}
