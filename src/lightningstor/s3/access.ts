import type { BucketRights, KeyAccess, KeyView } from "../key-store.ts";
import { S3Error } from "./errors.ts";
import type { Endpoint, Operation } from "./router.ts";

/** What an operation needs: a right on the bucket it names, the right to create buckets, or nothing (ListBuckets filters instead). */
export type Requirement = keyof BucketRights | "create-bucket" | "none";

/**
 * The right each S3 operation needs on its bucket, as Garage maps them:
 * reading (GET, HEAD, every listing), writing (PUT, DELETE, multipart, the
 * destination of a copy; the source needs read, see `authorize`), owning
 * (deleting the bucket itself).
 */
export const operationRights: Readonly<Record<Operation, Requirement>> = {
  ListBuckets: "none",
  CreateBucket: "create-bucket",
  DeleteBucket: "owner",
  HeadBucket: "read",
  GetBucketLocation: "read",
  GetBucketVersioning: "read",
  GetBucketAcl: "read",
  GetObjectAcl: "read",
  ListObjects: "read",
  ListObjectsV2: "read",
  ListMultipartUploads: "read",
  ListParts: "read",
  GetObject: "read",
  HeadObject: "read",
  PutObject: "write",
  CopyObject: "write",
  DeleteObject: "write",
  DeleteObjects: "write",
  CreateMultipartUpload: "write",
  UploadPart: "write",
  UploadPartCopy: "write",
  CompleteMultipartUpload: "write",
  AbortMultipartUpload: "write",
};

/** Who sends a request, and a way to ask what it may do on a bucket. */
export interface Principal {
  /** Undefined for an anonymous request. */
  accessKey?: string;
  access: KeyAccess | "anonymous";
  /** A scoped key may create buckets. */
  createBucket: boolean;
  /** Its rights on a bucket; root and legacy keys are never asked. */
  rightsOn(bucket: string): BucketRights;
}

/** Whether the principal has `right` on `bucket`. */
export function may(principal: Principal, right: keyof BucketRights, bucket: string): boolean {
  if (principal.access === "root" || principal.access === "legacy") return true;
  return principal.rightsOn(bucket)[right];
}

/**
 * Throws AccessDenied unless the principal may run the operation: its
 * bucket's right, and read on a copy's source bucket. An anonymous request
 * may only read (a public bucket: `rightsOn` says so).
 */
export function authorize(principal: Principal, endpoint: Endpoint): void {
  const need = operationRights[endpoint.op];
  if (principal.access === "anonymous" && need !== "read") throw new S3Error("AccessDenied", `anonymous requests may only read public buckets (${endpoint.op} needs a signature)`);
  if (need === "none") return;
  if (need === "create-bucket") {
    if (principal.access === "scoped" && !principal.createBucket) throw denied(principal, "may not create buckets");
    return;
  }
  if (!("bucket" in endpoint)) return;
  if (!may(principal, need, endpoint.bucket)) throw denied(principal, `may not ${need === "owner" ? "administer" : need} bucket ${endpoint.bucket}`);
  if ((endpoint.op === "CopyObject" || endpoint.op === "UploadPartCopy") && !may(principal, "read", endpoint.source.bucket)) {
    throw denied(principal, `may not read bucket ${endpoint.source.bucket}, the copy's source`);
  }
}

function denied(principal: Principal, what: string): S3Error {
  return new S3Error("AccessDenied", `${principal.accessKey === undefined ? "an anonymous request" : `access key ${principal.accessKey}`} ${what}`);
}

/**
 * The principal of a request, from the gateway's keys: anonymous when
 * `accessKey` is undefined. A public bucket may be read by anyone, any key included.
 */
export function principalOf(keys: KeyView, accessKey: string | undefined): Principal {
  const publicRead = (bucket: string): BucketRights => ({ read: keys.isPublic(bucket), write: false, owner: false });
  if (accessKey === undefined) return { access: "anonymous", createBucket: false, rightsOn: publicRead };
  const key = keys.accessOf(accessKey);
  // Deleted since its signature was checked.
  if (!key) throw new S3Error("InvalidAccessKeyId", "the access key id you provided does not exist");
  return {
    accessKey,
    access: key.access,
    createBucket: key.createBucket,
    rightsOn(bucket) {
      const granted = keys.grantOn(accessKey, bucket);
      return granted.read ? granted : { ...granted, read: keys.isPublic(bucket) };
    },
  };
}
