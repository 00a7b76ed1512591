import type { RequestTarget } from "./target.ts";
import { S3Error } from "./errors.ts";

/** One S3 operation, parsed from method, path and query (path-style addressing). */
export type Endpoint =
  | { op: "ListBuckets" }
  | { op: "CreateBucket" | "HeadBucket" | "DeleteBucket" | "GetBucketLocation" | "ListObjects" | "ListObjectsV2"; bucket: string }
  | { op: "ListMultipartUploads" | "DeleteObjects"; bucket: string }
  | { op: "GetBucketVersioning" | "GetBucketAcl"; bucket: string }
  | { op: "GetObjectAcl"; bucket: string; key: string }
  | { op: "CopyObject"; bucket: string; key: string; source: CopySource }
  | { op: "UploadPartCopy"; bucket: string; key: string; uploadId: string; partNumber: number; source: CopySource }
  | { op: "PutObject" | "GetObject" | "HeadObject" | "DeleteObject" | "CreateMultipartUpload"; bucket: string; key: string }
  | { op: "CompleteMultipartUpload" | "AbortMultipartUpload" | "ListParts"; bucket: string; key: string; uploadId: string }
  | { op: "UploadPart"; bucket: string; key: string; uploadId: string; partNumber: number };

/** The object x-amz-copy-source names. */
export interface CopySource {
  bucket: string;
  key: string;
}

/** An S3 operation's name. */
export type Operation = Endpoint["op"];

/** Sub-resources that mean an operation this gateway does not implement (yet): 501, never a wrong success. */
const unsupportedQuery = [
  "acl", "tagging", "versioning", "versions", "policy", "cors", "lifecycle", "website", "logging", "notification",
  "replication", "encryption", "object-lock", "retention", "legal-hold", "torrent", "restore", "select", "accelerate", "requestPayment", "analytics", "inventory", "metrics", "ownershipControls",
  "publicAccessBlock", "intelligent-tiering", "attributes",
];

/** Bucket names as S3 allows them (S3 User Guide, "Bucket naming rules"). */
export function validBucketName(name: string): boolean {
  return /^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/.test(name) && !name.includes("..") && !/^\d+\.\d+\.\d+\.\d+$/.test(name);
}

/**
 * The bucket named by a virtual-hosted-style Host (`bucket.<domain>`), when a
 * domain is configured; undefined for path-style requests.
 */
export function virtualHostBucket(host: string | null, domain: string | undefined): string | undefined {
  if (!domain || !host) return undefined;
  const name = host.replace(/:\d+$/, "").toLowerCase();
  return name.endsWith("." + domain) ? name.slice(0, -domain.length - 1) : undefined;
}

/** Maps a request to its operation; unknown combinations are NotImplemented or MethodNotAllowed. */
export function route(method: string, url: RequestTarget, headers: Headers, domain?: string): Endpoint {
  const path = url.pathname.slice(1);
  const hosted = virtualHostBucket(headers.get("host"), domain);
  if (path === "" && hosted === undefined) {
    if (method === "GET") return { op: "ListBuckets" };
    throw new S3Error("MethodNotAllowed", `${method} is not allowed on the service`);
  }
  const slash = hosted === undefined ? path.indexOf("/") : -1;
  const bucket = hosted ?? decode(slash < 0 ? path : path.slice(0, slash));
  const key = hosted !== undefined ? decode(path) : slash < 0 ? "" : decode(path.slice(slash + 1));
  if (!validBucketName(bucket)) throw new S3Error("InvalidBucketName", `"${bucket}" is not a valid bucket name`);
  // What tools ask before they work: answered as fixed facts (one owner, versioning never enabled).
  if (method === "GET" && url.searchParams.has("acl")) return key === "" ? { op: "GetBucketAcl", bucket } : { op: "GetObjectAcl", bucket, key };
  if (method === "GET" && key === "" && url.searchParams.has("versioning")) return { op: "GetBucketVersioning", bucket };
  const unsupported = unsupportedQuery.find((q) => url.searchParams.has(q));
  if (unsupported) throw new S3Error("NotImplemented", `the ${unsupported} sub-resource is not implemented`);
  if (key === "") {
    switch (method) {
      case "PUT":
        return { op: "CreateBucket", bucket };
      case "HEAD":
        return { op: "HeadBucket", bucket };
      case "DELETE":
        return { op: "DeleteBucket", bucket };
      case "GET":
        if (url.searchParams.has("location")) return { op: "GetBucketLocation", bucket };
        if (url.searchParams.has("uploads")) return { op: "ListMultipartUploads", bucket };
        return { op: url.searchParams.get("list-type") === "2" ? "ListObjectsV2" : "ListObjects", bucket };
    }
    if (method === "POST" && url.searchParams.has("delete")) return { op: "DeleteObjects", bucket };
    throw new S3Error("MethodNotAllowed", `${method} is not allowed on a bucket`);
  }
  if (Buffer.byteLength(key) > 1024) throw new S3Error("KeyTooLongError", "object keys are at most 1024 bytes");
  const uploadId = url.searchParams.get("uploadId");
  if (uploadId !== null) {
    switch (method) {
      case "PUT": {
        const partNumber = Number(url.searchParams.get("partNumber"));
        const source = copySourceOf(headers);
        return source ? { op: "UploadPartCopy", bucket, key, uploadId, partNumber, source } : { op: "UploadPart", bucket, key, uploadId, partNumber };
      }
      case "POST":
        return { op: "CompleteMultipartUpload", bucket, key, uploadId };
      case "DELETE":
        return { op: "AbortMultipartUpload", bucket, key, uploadId };
      case "GET":
        return { op: "ListParts", bucket, key, uploadId };
    }
    throw new S3Error("MethodNotAllowed", `${method} is not allowed on a multipart upload`);
  }
  if (method === "POST" && url.searchParams.has("uploads")) return { op: "CreateMultipartUpload", bucket, key };
  switch (method) {
    case "PUT": {
      const source = copySourceOf(headers);
      return source ? { op: "CopyObject", bucket, key, source } : { op: "PutObject", bucket, key };
    }
    case "GET":
      return { op: "GetObject", bucket, key };
    case "HEAD":
      return { op: "HeadObject", bucket, key };
    case "DELETE":
      return { op: "DeleteObject", bucket, key };
  }
  throw new S3Error(method === "POST" ? "NotImplemented" : "MethodNotAllowed", `${method} on an object is not supported`);
}

/**
 * x-amz-copy-source: `bucket/key` or `/bucket/key`, URL-encoded, perhaps with
 * `?versionId=` (S3 API Reference, CopyObject); undefined when absent.
 */
function copySourceOf(headers: Headers): CopySource | undefined {
  const raw = headers.get("x-amz-copy-source");
  if (raw === null) return undefined;
  let decoded: string;
  try {
    decoded = decodeURIComponent(raw.split("?")[0]!.replace(/^\//, ""));
  } catch {
    throw new S3Error("InvalidArgument", "x-amz-copy-source is not valid");
  }
  const slash = decoded.indexOf("/");
  if (slash <= 0 || slash === decoded.length - 1) throw new S3Error("InvalidArgument", "x-amz-copy-source must be bucket/key");
  return { bucket: decoded.slice(0, slash), key: decoded.slice(slash + 1) };
}

function decode(text: string): string {
  try {
    return decodeURIComponent(text);
  } catch {
    throw new S3Error("InvalidRequest", "malformed percent-encoding in the path");
  }
}
