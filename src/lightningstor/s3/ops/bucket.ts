import { may } from "../access.ts";
import { S3Error } from "../errors.ts";
import type { S3Context } from "../context.ts";
import { ownerOf } from "../owner.ts";
import { xmlResponse } from "../xml.ts";
import { children, childText, parseXmlBody } from "../xml-request.ts";

/** ListBuckets: the buckets the key may read. */
export async function listBuckets(ctx: S3Context): Promise<Response> {
  const buckets = (await ctx.meta.listBuckets())
    .filter((b) => may(ctx.principal, "read", b.name))
    .map((b) => ({ Name: b.name, CreationDate: b.createdAt.toISOString() }));
  return xmlResponse("ListAllMyBucketsResult", { Owner: ownerOf(ctx), Buckets: { Bucket: buckets } });
}

/**
 * CreateBucket. Creating a bucket you already own is 200 in us-east-1 (S3's
 * legacy behaviour there, which clients rely on) and BucketAlreadyOwnedByYou
 * in every other region (S3 API Reference, CreateBucket); a bucket someone
 * else owns is BucketAlreadyExists. A scoped key that creates a bucket owns it.
 */
export async function createBucket(ctx: S3Context, bucket: string): Promise<Response> {
  // A CreateBucketConfiguration body may name a location constraint; it must be our region.
  const body = await ctx.request.text();
  const constraint = body.trim() === "" ? undefined : childText(children(parseXmlBody(body), "CreateBucketConfiguration")[0], "LocationConstraint");
  if (constraint && constraint !== ctx.region) throw new S3Error("InvalidArgument", `the location constraint must be ${ctx.region}`);
  const owner = ctx.principal.access === "root" ? undefined : ctx.principal.accessKey;
  if (await ctx.meta.createBucket(bucket, owner)) return new Response(null, { status: 200, headers: { location: `/${bucket}` } });
  if (!may(ctx.principal, "owner", bucket)) throw new S3Error("BucketAlreadyExists", "the requested bucket name is not available; please select a different name");
  if (ctx.region !== "us-east-1") {
    throw new S3Error("BucketAlreadyOwnedByYou", "your previous request to create the named bucket succeeded and you already own it");
  }
  return new Response(null, { status: 200, headers: { location: `/${bucket}` } });
}

export async function headBucket(ctx: S3Context, bucket: string): Promise<Response> {
  if (!(await ctx.meta.bucketExists(bucket))) throw new S3Error("NoSuchBucket", "the specified bucket does not exist");
  return new Response(null, { status: 200, headers: { "x-amz-bucket-region": ctx.region } });
}

export async function deleteBucket(ctx: S3Context, bucket: string): Promise<Response> {
  const result = await ctx.meta.deleteBucket(bucket);
  if (result === "missing") throw new S3Error("NoSuchBucket", "the specified bucket does not exist");
  if (result === "not-empty") throw new S3Error("BucketNotEmpty", "the bucket you tried to delete is not empty");
  return new Response(null, { status: 204 });
}

export async function getBucketLocation(ctx: S3Context, bucket: string): Promise<Response> {
  if (!(await ctx.meta.bucketExists(bucket))) throw new S3Error("NoSuchBucket", "the specified bucket does not exist");
  // us-east-1 is reported as an empty constraint, as AWS does.
  return xmlResponse("LocationConstraint", { "#text": ctx.region === "us-east-1" ? "" : ctx.region });
}

/** GetBucketVersioning: versioning has never been enabled, an empty configuration (as MinIO and Garage answer). */
export async function getBucketVersioning(ctx: S3Context, bucket: string): Promise<Response> {
  await requireBucket(ctx, bucket);
  return xmlResponse("VersioningConfiguration", {});
}

/** Throws NoSuchBucket unless the bucket exists. */
export async function requireBucket(ctx: S3Context, bucket: string): Promise<void> {
  if (!(await ctx.meta.bucketExists(bucket))) throw new S3Error("NoSuchBucket", "the specified bucket does not exist");
}
