import type { S3Context } from "../context.ts";
import { S3Error } from "../errors.ts";
import { xmlResponse } from "../xml.ts";
import { children, childText, readXmlBody } from "../xml-request.ts";
import { requireBucket } from "./bucket.ts";

/** DeleteObject: deleting a missing key succeeds, as in S3. */
export async function deleteObject(ctx: S3Context, bucket: string, key: string): Promise<Response> {
  await requireBucket(ctx, bucket);
  await deleteChunks(ctx, await ctx.meta.deleteObject(bucket, key));
  return new Response(null, { status: 204 });
}

/**
 * Deletes chunks no object or part references any more, each once its last
 * reader is done; one that cannot be deleted is garbage for the collection.
 */
export async function deleteChunks(ctx: S3Context, chunks: { id: string }[]): Promise<void> {
  const results = await Promise.allSettled(chunks.map((c) => ctx.readers.delete(c.id, () => ctx.chunks.delete(c.id))));
  for (const result of results) {
    if (result.status === "rejected") ctx.log.warn("chunk not deleted; it will be collected later", { error: String(result.reason) });
  }
}

/** DeleteObjects: up to 1000 keys, Quiet or verbose; missing keys count as deleted, as in S3. */
export async function deleteObjects(ctx: S3Context, bucket: string): Promise<Response> {
  await requireBucket(ctx, bucket);
  const doc = children(await readXmlBody(ctx.request, ctx.auth.payload, ["Object"]), "Delete")[0];
  const entries = children(doc, "Object");
  if (!doc || entries.length === 0 || entries.length > 1000) throw new S3Error("MalformedXML", "the request must name between 1 and 1000 objects");
  const quiet = (childText(doc, "Quiet") ?? "false").trim().toLowerCase() === "true";
  const deleted: { Key: string }[] = [];
  const errors: { Key: string; Code: string; Message: string }[] = [];
  for (const entry of entries) {
    const key = childText(entry, "Key") ?? "";
    if (key === "" || Buffer.byteLength(key) > 1024) {
      errors.push({ Key: key, Code: "InvalidArgument", Message: "invalid key" });
      continue;
    }
    await deleteChunks(ctx, await ctx.meta.deleteObject(bucket, key));
    deleted.push({ Key: key });
  }
  return xmlResponse("DeleteResult", { ...(quiet ? {} : { Deleted: deleted }), Error: errors });
}
