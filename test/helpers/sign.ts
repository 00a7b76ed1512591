import { SignatureV4 } from "@smithy/signature-v4";
import { createHash, createHmac } from "node:crypto";

/** A SHA-256 for the AWS signer, on node:crypto (HMAC when given a secret). */
class Sha256 {
  private readonly hash;
  constructor(secret?: string | ArrayBuffer | ArrayBufferView) {
    this.hash = secret === undefined ? createHash("sha256") : createHmac("sha256", toBytes(secret));
  }
  update(data: string | ArrayBuffer | ArrayBufferView): void {
    this.hash.update(toBytes(data));
  }
  async digest(): Promise<Uint8Array> {
    return this.hash.digest();
  }
}

function toBytes(data: string | ArrayBuffer | ArrayBufferView): string | Uint8Array {
  if (typeof data === "string") return data;
  if (data instanceof ArrayBuffer) return new Uint8Array(data);
  return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
}

/** A raw request to sign: what the SDK would send, or what it never would. */
export interface RawRequest {
  method: string;
  path: string;
  headers?: Record<string, string>;
  body?: Uint8Array | string | ReadableStream<Uint8Array>;
  payloadHash?: string;
}

/** The headers of a request signed like the SDK would sign it (SigV4 via AWS's own signer). */
export async function signHeaders(endpoint: string, credentials: { accessKeyId: string; secretAccessKey: string }, request: RawRequest): Promise<Record<string, string>> {
  const url = new URL(endpoint);
  const signer = new SignatureV4({ credentials, region: "us-east-1", service: "s3", sha256: Sha256, uriEscapePath: false, applyChecksum: false });
  const body = typeof request.body === "string" ? Buffer.from(request.body) : request.body;
  // A stream goes out with Transfer-Encoding: chunked; its hash must be given (UNSIGNED-PAYLOAD will do).
  const stream = body instanceof ReadableStream;
  const payloadHash = request.payloadHash ?? createHash("sha256").update(stream ? "" : (body ?? "")).digest("hex");
  const [path, search = ""] = request.path.split("?");
  const query = Object.fromEntries(new URLSearchParams(search));
  const signed = await signer.sign({
    method: request.method,
    protocol: url.protocol,
    hostname: url.hostname,
    port: Number(url.port),
    path: path!,
    query,
    headers: { host: url.host, "x-amz-content-sha256": payloadHash, ...request.headers },
    body: stream ? undefined : body,
  });
  return signed.headers as Record<string, string>;
}

/**
 * Sends a raw request signed like the SDK would (SigV4 via AWS's own signer),
 * so tests can send what the SDK never would: bad framing, wrong digests.
 */
export async function signedFetch(endpoint: string, credentials: { accessKeyId: string; secretAccessKey: string }, request: RawRequest): Promise<Response> {
  const headers = await signHeaders(endpoint, credentials, request);
  const body = typeof request.body === "string" ? Buffer.from(request.body) : request.body;
  return fetch(`${endpoint}${request.path}`, { method: request.method, headers, body, duplex: "half" } as RequestInit);
}
