import type { RequestTarget } from "./target.ts";
import type { ChunkSigning } from "./aws-chunked.ts";
import { S3Error } from "./errors.ts";
import {
  ALGORITHM,
  canonicalRequest,
  parseAmzDate,
  parseAuthorization,
  parseCredential,
  scopeOf,
  signaturesMatch,
  signCanonical,
  signingKey,
  type Credentials,
} from "./sigv4.ts";

/** How the request body is protected, from x-amz-content-sha256. */
export type PayloadMode =
  | { kind: "hash"; sha256: string }
  | { kind: "unsigned" }
  | { kind: "chunked"; signing?: ChunkSigning; trailer: boolean };

/** An authenticated request, or an anonymous one (no access key). */
export interface Authenticated {
  accessKey?: string;
  payload: PayloadMode;
}

export interface AuthOptions {
  /** The secret of an access key; undefined when the key is unknown. */
  secretFor(accessKey: string): Promise<string | undefined>;
  region: string;
  now: Date;
  /** Allowed clock difference (AWS: 15 minutes). */
  maxSkewMs?: number;
}

const STREAMING_SIGNED = "STREAMING-AWS4-HMAC-SHA256-PAYLOAD";
const STREAMING_SIGNED_TRAILER = "STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER";
const STREAMING_UNSIGNED_TRAILER = "STREAMING-UNSIGNED-PAYLOAD-TRAILER";
const UNSIGNED = "UNSIGNED-PAYLOAD";
const MAX_PRESIGNED_EXPIRY_S = 7 * 24 * 3600;

/**
 * Authenticates a request with SigV4 in the Authorization header or in a
 * presigned query string. A request with neither is anonymous: what it may
 * do (read a public bucket, nothing else) is for authorization to say.
 */
export async function authenticate(request: Request, url: RequestTarget, options: AuthOptions): Promise<Authenticated> {
  const header = request.headers.get("authorization");
  // SigV2: `AWS AKID:signature`, or a query with AWSAccessKeyId and Signature (awscli v1's `s3 presign` default).
  if (header?.startsWith("AWS ") || (!header && url.searchParams.has("AWSAccessKeyId") && url.searchParams.has("Signature"))) {
    throw new S3Error("InvalidRequest", `the authorization mechanism you have provided (Signature Version 2) is not supported; please use ${ALGORITHM} (Signature Version 4)`);
  }
  if (header) return fromHeader(request, url, header, options);
  if (url.searchParams.has("X-Amz-Signature")) return fromQuery(request, url, options);
  return { payload: { kind: "unsigned" } };
}

async function fromHeader(request: Request, url: RequestTarget, header: string, options: AuthOptions): Promise<Authenticated> {
  const credentials = parseAuthorization(header);
  const amzDate = request.headers.get("x-amz-date") ?? "";
  const date = parseAmzDate(amzDate);
  if (!date) throw new S3Error("AccessDenied", "x-amz-date is missing or malformed");
  checkScope(credentials, amzDate, options, "AuthorizationHeaderMalformed");
  checkSkew(date, options);
  const contentSha = request.headers.get("x-amz-content-sha256");
  if (!contentSha) throw new S3Error("InvalidRequest", "x-amz-content-sha256 is required with SigV4");
  const key = await keyFor(credentials, options);
  const signature = sign(request, url, credentials, key, amzDate, contentSha, []);
  if (!signaturesMatch(credentials.signature, signature)) {
    throw new S3Error("SignatureDoesNotMatch", "the request signature we calculated does not match the signature you provided");
  }
  const signing: ChunkSigning = { key, amzDate, scope: scopeOf(credentials), seedSignature: signature };
  return { accessKey: credentials.accessKey, payload: payloadMode(contentSha, signing) };
}

async function fromQuery(request: Request, url: RequestTarget, options: AuthOptions): Promise<Authenticated> {
  const q = url.searchParams;
  if (q.get("X-Amz-Algorithm") !== ALGORITHM) throw new S3Error("AuthorizationQueryParametersError", `X-Amz-Algorithm must be ${ALGORITHM}`);
  const amzDate = q.get("X-Amz-Date") ?? "";
  const date = parseAmzDate(amzDate);
  const expiresText = q.get("X-Amz-Expires") ?? "";
  const expires = /^-?\d+$/.test(expiresText) ? Number(expiresText) : NaN;
  const signedHeaders = q.get("X-Amz-SignedHeaders");
  const signature = q.get("X-Amz-Signature") ?? "";
  if (!date || !signedHeaders || !Number.isInteger(expires)) {
    throw new S3Error("AuthorizationQueryParametersError", "X-Amz-Date, X-Amz-Expires (an integer) and X-Amz-SignedHeaders are required");
  }
  // A URL that can never be valid is refused as an expired one is: 403, with the reason.
  if (expires < 1) throw new S3Error("AccessDenied", `X-Amz-Expires must be at least 1 second; this URL is not valid (${expires})`);
  if (expires > MAX_PRESIGNED_EXPIRY_S) throw new S3Error("AccessDenied", `X-Amz-Expires must be at most ${MAX_PRESIGNED_EXPIRY_S} seconds (seven days); it is ${expires}`);
  const credentials: Credentials = {
    ...parseCredential(q.get("X-Amz-Credential") ?? "", "AuthorizationQueryParametersError"),
    signedHeaders: signedHeaders.split(";"),
    signature,
  };
  checkScope(credentials, amzDate, options, "AuthorizationQueryParametersError");
  if (options.now.getTime() > date.getTime() + expires * 1000) throw new S3Error("AccessDenied", `request has expired: it was valid for ${expires} s from ${date.toISOString()}`);
  if (date.getTime() - options.now.getTime() > (options.maxSkewMs ?? 15 * 60_000)) throw new S3Error("AccessDenied", "request is not yet valid");
  const key = await keyFor(credentials, options);
  const contentSha = q.get("X-Amz-Content-Sha256") ?? UNSIGNED;
  const expected = sign(request, url, credentials, key, amzDate, contentSha, ["X-Amz-Signature"]);
  if (!signaturesMatch(signature, expected)) {
    throw new S3Error("SignatureDoesNotMatch", "the request signature we calculated does not match the signature you provided");
  }
  return { accessKey: credentials.accessKey, payload: payloadMode(contentSha, undefined) };
}

function sign(request: Request, url: RequestTarget, c: Credentials, key: Buffer, amzDate: string, payloadHash: string, omit: string[]): string {
  if (!c.signedHeaders.includes("host")) throw new S3Error("AccessDenied", "the host header must be signed");
  const rawQuery = url.search.startsWith("?") ? url.search.slice(1) : url.search;
  const canonical = canonicalRequest(
    { method: request.method, rawPath: url.pathname, rawQuery, headers: (name) => request.headers.get(name) ?? undefined },
    c.signedHeaders,
    payloadHash,
    omit,
  );
  return signCanonical(key, amzDate, scopeOf(c), canonical);
}

function checkScope(c: Credentials, amzDate: string, options: AuthOptions, code: "AuthorizationHeaderMalformed" | "AuthorizationQueryParametersError"): void {
  if (c.service !== "s3") throw new S3Error(code, `the credential scope's service must be s3, not "${c.service}"`);
  if (c.region !== options.region) throw new S3Error(code, `the region "${c.region}" is wrong; expecting "${options.region}"`);
  if (!amzDate.startsWith(c.date)) throw new S3Error(code, "the credential scope's date does not match x-amz-date");
}

function checkSkew(date: Date, options: AuthOptions): void {
  if (Math.abs(options.now.getTime() - date.getTime()) > (options.maxSkewMs ?? 15 * 60_000)) {
    throw new S3Error("RequestTimeTooSkewed", "the difference between the request time and the server's time is too large");
  }
}

async function keyFor(c: Credentials, options: AuthOptions): Promise<Buffer> {
  const secret = await options.secretFor(c.accessKey);
  if (secret === undefined) throw new S3Error("InvalidAccessKeyId", "the access key id you provided does not exist");
  return signingKey(secret, c.date, c.region, c.service);
}

function payloadMode(contentSha: string, signing: ChunkSigning | undefined): PayloadMode {
  if (contentSha === UNSIGNED) return { kind: "unsigned" };
  if (contentSha === STREAMING_UNSIGNED_TRAILER) return { kind: "chunked", trailer: true };
  if (contentSha === STREAMING_SIGNED || contentSha === STREAMING_SIGNED_TRAILER) {
    if (!signing) throw new S3Error("InvalidRequest", "streaming signed payloads need header authentication");
    return { kind: "chunked", signing, trailer: contentSha === STREAMING_SIGNED_TRAILER };
  }
  if (/^[0-9a-f]{64}$/.test(contentSha)) return { kind: "hash", sha256: contentSha };
  throw new S3Error("InvalidArgument", `x-amz-content-sha256 "${contentSha.slice(0, 80)}" is not valid`);
}
