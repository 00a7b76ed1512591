import type { Logger } from "../../util/log.ts";
import type { ListenerResponse } from "../http/response-body.ts";
import { isDiskFull } from "../../db/disk-reserve.ts";
import { isMetadataUnavailable } from "../../db/open-store-db.ts";
import { ChunkStoreFullError, ChunkUnavailableError, type ChunkStore } from "../chunks/chunk-store.ts";
import type { S3Metadata } from "../metadata.ts";
import { authorize, principalOf } from "./access.ts";
import { authenticate } from "./auth.ts";
import { ChunkReaders } from "./chunk-readers.ts";
import type { S3Context } from "./context.ts";
import { BodyTooSlowError } from "../http/listener-limits.ts";
import { S3Error, storageFull } from "./errors.ts";
import { getAcl } from "./ops/acl.ts";
import { createBucket, deleteBucket, getBucketLocation, getBucketVersioning, headBucket, listBuckets } from "./ops/bucket.ts";
import { listObjects } from "./ops/list.ts";
import { abortUpload, completeUpload, createUpload, listParts, listUploads, uploadPart } from "./ops/multipart.ts";
import { copyObject, uploadPartCopy } from "./ops/copy.ts";
import { deleteObject, deleteObjects } from "./ops/delete-object.ts";
import { getObject } from "./ops/get-object.ts";
import { putObject } from "./ops/put-object.ts";
import { route } from "./router.ts";
import { parseTarget } from "./target.ts";
import type { S3Metrics } from "./s3-metrics.ts";
import { errorResponse } from "./xml.ts";

export interface S3AppOptions {
  meta: S3Metadata;
  chunks: ChunkStore;
  region: string;
  /** Enables virtual-hosted-style addressing: `bucket.<domain>`. */
  domain?: string;
  log: Logger;
  /** Where per-operation figures go (`/metrics` of the gateway's admin API). */
  metrics?: S3Metrics;
  now?: () => Date;
}

/**
 * Unauthenticated health probes, as MinIO's load balancers use them: live (the
 * process answers) and ready (its metadata can be read and a PUT could be
 * stored: enough storage nodes known and answering). Only an anonymous
 * GET/HEAD is a probe, so a signed request for a bucket named `health` or
 * `minio` still reaches it; a probe reveals nothing but its status.
 */
async function healthProbe(request: Request, path: string, meta: S3Metadata, chunks: ChunkStore): Promise<Response | undefined> {
  if (request.method !== "GET" && request.method !== "HEAD") return undefined;
  if (request.headers.has("authorization") || new URL(request.url).searchParams.has("X-Amz-Signature")) return undefined;
  const probe = /^\/(?:minio\/)?health\/(live|ready)$/.exec(path)?.[1];
  if (!probe) return undefined;
  if (probe === "ready") {
    try {
      await meta.keys.secretFor("");
      if (!chunks.writable()) return new Response(null, { status: 503 });
    } catch {
      return new Response(null, { status: 503 });
    }
  }
  return new Response(null, { status: 200 });
}

/**
 * The S3 API as a fetch handler: authenticate (SigV4), route to one
 * operation, run it; every error becomes S3 XML here and nowhere else.
 */
export function createS3Handler(options: S3AppOptions): (request: Request, rawTarget?: string) => Promise<ListenerResponse> {
  const { meta, chunks, region, log } = options;
  const readers = new ChunkReaders(log);
  return async (request, rawTarget) => {
    const started = performance.now();
    const url = parseTarget(rawTarget ?? request.url);
    const probe = await healthProbe(request, url.pathname, meta, chunks);
    if (probe) return probe;
    const requestId = crypto.randomUUID().replaceAll("-", "").slice(0, 16).toUpperCase();
    let response: ListenerResponse;
    let operation = "unrouted";
    // Named in the request's log line (never its secret): rotating a key means watching the old one go quiet.
    let accessKey: string | undefined;
    try {
      const keys = meta.keys.forRequest();
      const auth = await authenticate(request, url, { secretFor: keys.secretFor, region, now: options.now?.() ?? new Date() });
      const endpoint = route(request.method, url, request.headers, options.domain);
      operation = endpoint.op;
      accessKey = auth.accessKey;
      const principal = principalOf(await keys.keyView(auth.accessKey), auth.accessKey);
      authorize(principal, endpoint);
      const ctx: S3Context = { request, url, auth, principal, meta, chunks, readers, region, log };
      switch (endpoint.op) {
        case "ListBuckets":
          response = await listBuckets(ctx);
          break;
        case "CreateBucket":
          response = await createBucket(ctx, endpoint.bucket);
          break;
        case "HeadBucket":
          response = await headBucket(ctx, endpoint.bucket);
          break;
        case "DeleteBucket":
          response = await deleteBucket(ctx, endpoint.bucket);
          break;
        case "GetBucketLocation":
          response = await getBucketLocation(ctx, endpoint.bucket);
          break;
        case "GetBucketVersioning":
          response = await getBucketVersioning(ctx, endpoint.bucket);
          break;
        case "GetBucketAcl":
          response = await getAcl(ctx, endpoint.bucket);
          break;
        case "GetObjectAcl":
          response = await getAcl(ctx, endpoint.bucket, endpoint.key);
          break;
        case "ListObjects":
        case "ListObjectsV2":
          response = await listObjects(ctx, endpoint.bucket, endpoint.op === "ListObjectsV2");
          break;
        case "PutObject":
          response = await putObject(ctx, endpoint.bucket, endpoint.key);
          break;
        case "GetObject":
        case "HeadObject":
          response = await getObject(ctx, endpoint.bucket, endpoint.key, endpoint.op === "HeadObject");
          break;
        case "DeleteObject":
          response = await deleteObject(ctx, endpoint.bucket, endpoint.key);
          break;
        case "CreateMultipartUpload":
          response = await createUpload(ctx, endpoint.bucket, endpoint.key);
          break;
        case "UploadPart":
          response = await uploadPart(ctx, endpoint.bucket, endpoint.key, endpoint.uploadId, endpoint.partNumber);
          break;
        case "CompleteMultipartUpload":
          response = await completeUpload(ctx, endpoint.bucket, endpoint.key, endpoint.uploadId);
          break;
        case "AbortMultipartUpload":
          response = await abortUpload(ctx, endpoint.bucket, endpoint.key, endpoint.uploadId);
          break;
        case "ListParts":
          response = await listParts(ctx, endpoint.bucket, endpoint.key, endpoint.uploadId);
          break;
        case "ListMultipartUploads":
          response = await listUploads(ctx, endpoint.bucket);
          break;
        case "CopyObject":
          response = await copyObject(ctx, endpoint.bucket, endpoint.key, endpoint.source);
          break;
        case "UploadPartCopy":
          response = await uploadPartCopy(ctx, endpoint.bucket, endpoint.key, endpoint.uploadId, endpoint.partNumber, endpoint.source);
          break;
        case "DeleteObjects":
          response = await deleteObjects(ctx, endpoint.bucket);
          break;
      }
    } catch (err) {
      const s3 = asS3Error(err);
      if (s3.code === "InternalError") log.error("S3 request failed", { method: request.method, path: url.pathname, err });
      else if (s3.code === "ServiceUnavailable") log.warn(`S3 request failed: ${s3.message}`, { method: request.method, path: url.pathname, error: String(err) });
      response = errorResponse(s3, url.pathname, requestId, request.method);
    }
    response.headers.set("x-amz-request-id", requestId);
    const seconds = (performance.now() - started) / 1000;
    options.metrics?.record(operation, response.status, Number(request.headers.get("content-length") ?? 0) || 0, Number(response.headers.get("content-length") ?? 0) || 0, seconds);
    log.info("s3 request", { method: request.method, path: url.pathname, key: accessKey ?? "anonymous", status: response.status, ms: Math.round((performance.now() - started) * 10) / 10 });
    return response;
  };
}

/** The S3 error to answer for what an operation threw. */
function asS3Error(err: unknown): S3Error {
  if (err instanceof S3Error) return err;
  if (err instanceof ChunkUnavailableError) return new S3Error("ServiceUnavailable", "too few storage nodes answered; please try again");
  if (isMetadataUnavailable(err)) return new S3Error("ServiceUnavailable", "the metadata database does not answer; please try again");
  if (err instanceof ChunkStoreFullError || isDiskFull(err)) return storageFull();
  if (err instanceof BodyTooSlowError) return new S3Error("RequestTimeout", "your socket connection to the server was not read from or written to within the timeout period");
  return new S3Error("InternalError", "we encountered an internal error; please try again");
}
