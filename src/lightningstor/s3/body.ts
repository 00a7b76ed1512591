import { Crc32c } from "@aws-crypto/crc32c";
import { Crc64Nvme } from "@aws-sdk/crc64-nvme";
import { createHash, type Hash } from "node:crypto";
import type { PayloadMode } from "./auth.ts";
import { decodeAwsChunked } from "./aws-chunked.ts";
import { OffThreadDigests } from "./digests.ts";
import { BodyTooSlowError } from "../http/listener-limits.ts";
import { S3Error } from "./errors.ts";

/** Checksum algorithms the gateway verifies and stores (x-amz-checksum-<name>). */
const computable = ["crc32", "crc32c", "crc64nvme", "sha1", "sha256"] as const;
export type Algorithm = (typeof computable)[number];

/** What was received, with every digest the request asked to be checked. */
export interface ReceivedBody {
  size: number;
  md5Hex: string;
  /** Verified checksums by algorithm, base64 as S3 writes them. */
  checksums: Record<string, string>;
}

/**
 * Streams a request body to `sink` piece by piece — decoding aws-chunked
 * framing, never keeping the whole body — and verifies, once it is complete:
 * the payload SHA-256 the signature covered, Content-MD5, and any
 * x-amz-checksum-* given as a header or a trailer. Errors are S3 errors.
 */
export async function receiveBody(request: Request, mode: PayloadMode, sink: (piece: Uint8Array) => Promise<void> | void): Promise<ReceivedBody> {
  checkContentMd5(request.headers.get("content-md5"));
  // MD5 (the ETag) always; SHA-256 when the signature covers a payload hash.
  const digests = new OffThreadDigests(mode.kind === "hash" ? ["md5", "sha256"] : ["md5"]);
  try {
    return await receive(request, mode, sink, digests);
  } finally {
    digests.drop();
  }
}

async function receive(request: Request, mode: PayloadMode, sink: (piece: Uint8Array) => Promise<void> | void, digests: OffThreadDigests): Promise<ReceivedBody> {
  const algorithm = requestedAlgorithm(request);
  const checksum = algorithm ? checksumHasher(algorithm) : undefined;
  let size = 0;
  const consume = async (piece: Uint8Array) => {
    size += piece.length;
    digests.update(piece);
    checksum?.update(piece);
    await sink(piece);
  };

  let trailers: Record<string, string> = {};
  const source = bodyStream(request);
  if (mode.kind === "chunked") {
    const decodedLength = request.headers.get("x-amz-decoded-content-length");
    const generator = decodeAwsChunked(source, { signing: mode.signing, decodedLength: decodedLength === null ? undefined : Number(decodedLength) });
    for (;;) {
      const next = await generator.next();
      if (next.done) {
        trailers = next.value;
        break;
      }
      await consume(next.value);
    }
  } else {
    for await (const piece of source) await consume(piece);
    const declared = request.headers.get("content-length");
    if (declared !== null && Number(declared) !== size) throw new S3Error("IncompleteBody", `received ${size} bytes of ${declared}`);
  }

  const [md5Raw, payloadSha] = (await digests.digest()) as [Buffer, Buffer | undefined];
  if (mode.kind === "hash" && payloadSha?.toString("hex") !== mode.sha256) {
    throw new S3Error("XAmzContentSHA256Mismatch", "the provided x-amz-content-sha256 does not match what was received");
  }
  const contentMd5 = request.headers.get("content-md5");
  if (contentMd5 !== null && contentMd5.trim() !== md5Raw.toString("base64")) throw new S3Error("BadDigest", "the Content-MD5 you specified did not match what was received");
  const checksums: Record<string, string> = {};
  if (algorithm && checksum) {
    const name = `x-amz-checksum-${algorithm}`;
    const expected = request.headers.get(name) ?? trailers[name];
    if (expected === undefined) throw new S3Error("InvalidRequest", `${name} was announced but not sent`);
    const actual = await checksum.digest();
    if (actual !== expected) throw new S3Error("BadDigest", `the ${algorithm.toUpperCase()} you specified did not match the calculated checksum`);
    checksums[algorithm] = actual;
  }
  return { size, md5Hex: md5Raw.toString("hex"), checksums };
}

/** A Content-MD5 that is not base64 of 16 bytes is InvalidDigest, refused before the body is read (RFC 1864; S3 API Reference, "Error responses"). */
export function checkContentMd5(value: string | null): void {
  if (value === null) return;
  if (!/^[A-Za-z0-9+/]{22}==$/.test(value.trim())) throw new S3Error("InvalidDigest", "the Content-MD5 you specified is not the base64 of an MD5 digest");
}

async function* bodyStream(request: Request): AsyncGenerator<Uint8Array> {
  if (!request.body) return;
  try {
    for await (const piece of request.body) yield piece;
  } catch (err) {
    if (err instanceof BodyTooSlowError) throw new S3Error("RequestTimeout", "your socket connection to the server was not read from or written to within the timeout period");
    throw new S3Error("IncompleteBody", `the request body ended early: ${(err as Error).message}`);
  }
}

/** The checksum the request asks for: x-amz-checksum-<alg> header, or a trailer announced in x-amz-trailer. */
function requestedAlgorithm(request: Request): Algorithm | undefined {
  const names = [request.headers.get("x-amz-trailer") ?? "", ...[...request.headers.keys()].filter((h) => h.startsWith("x-amz-checksum-"))];
  for (const name of names) {
    const match = /^x-amz-checksum-([a-z0-9]+)$/.exec(name.trim().toLowerCase());
    if (!match || match[1] === "type" || match[1] === "algorithm") continue;
    const algorithm = match[1]!;
    if ((computable as readonly string[]).includes(algorithm)) return algorithm as Algorithm;
    throw new S3Error("InvalidRequest", `unknown checksum algorithm ${algorithm}`);
  }
  return undefined;
}

/** An incremental checksum with S3's base64 output (big-endian for the CRCs). */
export function checksumHasher(algorithm: Algorithm): { update(piece: Uint8Array): void; digest(): Promise<string> } {
  const u32 = (value: number) => {
    const out = Buffer.alloc(4);
    out.writeUInt32BE(value >>> 0);
    return out.toString("base64");
  };
  switch (algorithm) {
    case "crc32": {
      let crc = 0;
      return { update: (piece) => void (crc = Bun.hash.crc32(piece, crc)), digest: async () => u32(crc) };
    }
    case "crc32c": {
      const crc = new Crc32c();
      return { update: (piece) => void crc.update(piece), digest: async () => u32(crc.digest()) };
    }
    case "crc64nvme": {
      const crc = new Crc64Nvme();
      return { update: (piece) => crc.update(piece), digest: async () => Buffer.from(await crc.digest()).toString("base64") };
    }
    default: {
      const hash: Hash = createHash(algorithm);
      return { update: (piece) => void hash.update(piece), digest: async () => hash.digest("base64") };
    }
  }
}
