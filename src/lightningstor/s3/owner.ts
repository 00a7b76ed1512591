import type { S3Context } from "./context.ts";

/** An S3 `Owner` (or ACL `Grantee`) element: ID and DisplayName. */
export interface Owner {
  ID: string;
  DisplayName: string;
}

/**
 * The owner of every bucket and object. A gateway is one account: every
 * access key reaches every bucket, so the account is named by the key that
 * asks, as ListBuckets has always done.
 */
export function ownerOf(ctx: S3Context): Owner {
  return { ID: ctx.auth.accessKey, DisplayName: ctx.auth.accessKey };
}
