import type { S3Context } from "./context.ts";

/** An S3 `Owner` (or ACL `Grantee`) element: ID and DisplayName. */
export interface Owner {
  ID: string;
  DisplayName: string;
}

/**
 * The owner of every bucket and object. A gateway is one account (keys are
 * scoped to buckets, not accounts), so the account is named by the key that
 * asks, as ListBuckets has always done; "anonymous" for a public read.
 */
export function ownerOf(ctx: S3Context): Owner {
  const name = ctx.auth.accessKey ?? "anonymous";
  return { ID: name, DisplayName: name };
}
