import { createHash, createHmac, timingSafeEqual } from "node:crypto";
import { S3Error } from "./errors.ts";

/**
 * AWS Signature Version 4 for S3, server side (S3 API Reference,
 * "Authenticating Requests (AWS Signature Version 4)"): the canonical request
 * built exactly as clients build it, the signing key, header and presigned
 * query authentication, and the chained signatures of aws-chunked bodies.
 */

export const ALGORITHM = "AWS4-HMAC-SHA256";
export const EMPTY_SHA256 = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

/** What the Authorization header (or the X-Amz-* query) carries. */
export interface Credentials {
  accessKey: string;
  /** YYYYMMDD of the scope. */
  date: string;
  region: string;
  service: string;
  signedHeaders: string[];
  signature: string;
}

/** The parts of a request that are signed. */
export interface SignedRequest {
  method: string;
  /** The path exactly as received (still percent-encoded). */
  rawPath: string;
  /** The query string as received, without "?" (still percent-encoded). */
  rawQuery: string;
  /** Header values by lower-case name. */
  headers: (name: string) => string | undefined;
}

/** Parses `AWS4-HMAC-SHA256 Credential=…, SignedHeaders=…, Signature=…`. */
export function parseAuthorization(header: string): Credentials {
  if (!header.startsWith(ALGORITHM + " ")) throw new S3Error("AuthorizationHeaderMalformed", `the authorization header must use ${ALGORITHM}`);
  const fields = new Map<string, string>();
  for (const part of header.slice(ALGORITHM.length + 1).split(",")) {
    const eq = part.indexOf("=");
    if (eq > 0) fields.set(part.slice(0, eq).trim(), part.slice(eq + 1).trim());
  }
  const credential = fields.get("Credential");
  const signedHeaders = fields.get("SignedHeaders");
  const signature = fields.get("Signature");
  if (!credential || !signedHeaders || !signature) {
    throw new S3Error("AuthorizationHeaderMalformed", "the authorization header needs Credential, SignedHeaders and Signature");
  }
  return { ...parseCredential(credential, "AuthorizationHeaderMalformed"), signedHeaders: signedHeaders.split(";"), signature };
}

/** Parses `AKID/20130524/us-east-1/s3/aws4_request`. */
export function parseCredential(credential: string, code: "AuthorizationHeaderMalformed" | "AuthorizationQueryParametersError") {
  const parts = credential.split("/");
  if (parts.length !== 5 || parts[4] !== "aws4_request" || !/^\d{8}$/.test(parts[1]!)) {
    throw new S3Error(code, `malformed credential scope "${credential}"`);
  }
  return { accessKey: parts[0]!, date: parts[1]!, region: parts[2]!, service: parts[3]! };
}

/** RFC 3986 encoding as SigV4 wants it: everything but A-Z a-z 0-9 - _ . ~ is percent-encoded. */
export function uriEncode(text: string, encodeSlash = true): string {
  const encoded = encodeURIComponent(text).replace(/[!'()*]/g, (c) => "%" + c.charCodeAt(0).toString(16).toUpperCase());
  return encodeSlash ? encoded : encoded.replaceAll("%2F", "/");
}

function decode(text: string): string {
  try {
    return decodeURIComponent(text.replaceAll("+", "%20"));
  } catch {
    throw new S3Error("InvalidRequest", "malformed percent-encoding in the request");
  }
}

/** The canonical URI: each path segment encoded once (S3 does not double-encode). */
export function canonicalUri(rawPath: string): string {
  return rawPath
    .split("/")
    .map((segment) => uriEncode(decodeURIComponentSafe(segment)))
    .join("/");
}

function decodeURIComponentSafe(segment: string): string {
  try {
    return decodeURIComponent(segment);
  } catch {
    throw new S3Error("InvalidRequest", "malformed percent-encoding in the path");
  }
}

/** The canonical query string: encoded pairs sorted by name then value; `omit` names are left out. */
export function canonicalQuery(rawQuery: string, omit: string[] = []): string {
  if (rawQuery === "") return "";
  const pairs: [string, string][] = [];
  for (const part of rawQuery.split("&")) {
    if (part === "") continue;
    const eq = part.indexOf("=");
    const name = decode(eq < 0 ? part : part.slice(0, eq));
    if (omit.includes(name)) continue;
    pairs.push([uriEncode(name), uriEncode(eq < 0 ? "" : decode(part.slice(eq + 1)))]);
  }
  pairs.sort(([a, av], [b, bv]) => (a < b ? -1 : a > b ? 1 : av < bv ? -1 : av > bv ? 1 : 0));
  return pairs.map(([n, v]) => `${n}=${v}`).join("&");
}

/** The canonical request of SigV4 (method, URI, query, headers, signed header list, payload hash). */
export function canonicalRequest(request: SignedRequest, signedHeaders: string[], payloadHash: string, omitQuery: string[] = []): string {
  const headerLines = signedHeaders.map((name) => {
    const value = request.headers(name);
    if (value === undefined) throw new S3Error("AccessDenied", `signed header "${name}" is missing from the request`);
    return `${name}:${value.trim().replace(/\s+/g, " ")}`;
  });
  return [
    request.method,
    canonicalUri(request.rawPath),
    canonicalQuery(request.rawQuery, omitQuery),
    ...headerLines,
    "",
    signedHeaders.join(";"),
    payloadHash,
  ].join("\n");
}

/** The credential scope `YYYYMMDD/region/service/aws4_request`. */
export function scopeOf(c: { date: string; region: string; service: string }): string {
  return `${c.date}/${c.region}/${c.service}/aws4_request`;
}

export function sha256Hex(data: string | Uint8Array): string {
  return createHash("sha256").update(data).digest("hex");
}

function hmac(key: string | Buffer, data: string): Buffer {
  return createHmac("sha256", key).update(data).digest();
}

/** The signing key: HMAC chain over date, region, service and "aws4_request". */
export function signingKey(secret: string, date: string, region: string, service: string): Buffer {
  return hmac(hmac(hmac(hmac("AWS4" + secret, date), region), service), "aws4_request");
}

/** Signs a canonical request. */
export function signCanonical(key: Buffer, amzDate: string, scope: string, canonical: string): string {
  const stringToSign = [ALGORITHM, amzDate, scope, sha256Hex(canonical)].join("\n");
  return hmac(key, stringToSign).toString("hex");
}

/**
 * The signature of one aws-chunked chunk (STREAMING-AWS4-HMAC-SHA256-PAYLOAD):
 * it chains the previous chunk's signature, so chunks cannot be reordered or dropped.
 */
export function chunkSignature(key: Buffer, amzDate: string, scope: string, previousSignature: string, chunkHashHex: string): string {
  const stringToSign = [`${ALGORITHM}-PAYLOAD`, amzDate, scope, previousSignature, EMPTY_SHA256, chunkHashHex].join("\n");
  return hmac(key, stringToSign).toString("hex");
}

/** The signature of the trailer chunk (STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER). */
export function trailerSignature(key: Buffer, amzDate: string, scope: string, previousSignature: string, trailerText: string): string {
  const stringToSign = [`${ALGORITHM}-TRAILER`, amzDate, scope, previousSignature, sha256Hex(trailerText)].join("\n");
  return hmac(key, stringToSign).toString("hex");
}

/** Compares two hex signatures in constant time. */
export function signaturesMatch(given: string, expected: string): boolean {
  const a = Buffer.from(given, "utf8");
  const b = Buffer.from(expected, "utf8");
  return a.length === b.length && timingSafeEqual(a, b);
}

/** Parses `20130524T000000Z` into a Date; undefined when malformed. */
export function parseAmzDate(text: string | undefined): Date | undefined {
  const m = text ? /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/.exec(text) : null;
  if (!m) return undefined;
  return new Date(Date.UTC(+m[1]!, +m[2]! - 1, +m[3]!, +m[4]!, +m[5]!, +m[6]!));
}
