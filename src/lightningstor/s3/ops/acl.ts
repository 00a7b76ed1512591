import type { S3Context } from "../context.ts";
import { S3Error } from "../errors.ts";
import { ownerOf } from "../owner.ts";
import { xmlResponse } from "../xml.ts";
import { requireBucket } from "./bucket.ts";

/**
 * GetBucketAcl and GetObjectAcl: the owner holds FULL_CONTROL and nobody else
 * is granted anything, which is all this gateway offers (S3 API Reference,
 * GetBucketAcl, GetObjectAcl). Tools such as rclone and s3cmd ask before they copy.
 */
export async function getAcl(ctx: S3Context, bucket: string, key?: string): Promise<Response> {
  await requireBucket(ctx, bucket);
  if (key !== undefined && !(await ctx.meta.getObject(bucket, key))) throw new S3Error("NoSuchKey", "the specified key does not exist");
  const owner = ownerOf(ctx);
  const grantee = { "@_xmlns:xsi": "http://www.w3.org/2001/XMLSchema-instance", "@_xsi:type": "CanonicalUser", ...owner };
  return xmlResponse("AccessControlPolicy", { Owner: owner, AccessControlList: { Grant: [{ Grantee: grantee, Permission: "FULL_CONTROL" }] } });
}
