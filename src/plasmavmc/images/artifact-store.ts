import {
  AbortMultipartUploadCommand,
  CompleteMultipartUploadCommand,
  CreateBucketCommand,
  CreateMultipartUploadCommand,
  DeleteObjectCommand,
  GetObjectCommand,
  HeadBucketCommand,
  PutObjectCommand,
  S3Client,
  UploadPartCommand,
} from "@aws-sdk/client-s3";
import { Agent } from "node:https";
import type { TrustedCa } from "../../http/client-tls.ts";

/** Where image artifacts live: a LightningStor (or any S3) endpoint, a key and a bucket. */
export interface ArtifactConfig {
  endpoint: string;
  region: string;
  /** The key, asked for when the first request is signed (the gateway may write its key file after the controller starts). */
  credentials: () => Promise<{ accessKeyId: string; secretAccessKey: string }>;
  bucket: string;
}

/** Multipart upload: 16 MiB parts (the gateway's streaming threshold), 4 in flight — memory stays near 64 MiB. */
const PART_SIZE = 16 * 1024 * 1024;
const PARTS_IN_FLIGHT = 4;

/** Image artifacts in an S3 bucket, through the AWS SDK as any S3 user would store them. */
export class ArtifactStore {
  private readonly s3: S3Client;
  private bucketReady?: Promise<void>;

  constructor(
    readonly config: ArtifactConfig,
    /** The CA an https:// endpoint is verified against. */
    ca?: TrustedCa,
  ) {
    this.s3 = new S3Client({
      endpoint: config.endpoint,
      region: config.region,
      forcePathStyle: true,
      credentials: config.credentials,
      ...(ca === undefined ? {} : { requestHandler: { httpsAgent: new Agent({ ca, keepAlive: true }) } }),
    });
  }

  /** Creates the bucket once if it is missing. */
  private ensureBucket(): Promise<void> {
    this.bucketReady ??= this.s3
      .send(new HeadBucketCommand({ Bucket: this.config.bucket }))
      .then(
        () => undefined,
        () => this.s3.send(new CreateBucketCommand({ Bucket: this.config.bucket })).then(() => undefined),
      )
      .catch((err) => {
        this.bucketReady = undefined;
        throw err;
      });
    return this.bucketReady;
  }

  /**
   * Streams `body` into `key`: one PUT when it fits a part, else a multipart
   * upload whose parts are cut from the stream as it arrives, at most
   * PARTS_IN_FLIGHT uploading while the next one fills — so memory stays
   * bounded whatever the size. (`@aws-sdk/lib-storage` read the whole body
   * ahead under Bun: 456 MiB resident for a 512 MiB image.) `onProgress` sees
   * the bytes stored so far.
   */
  async put(key: string, body: ReadableStream<Uint8Array>, onProgress?: (bytes: number) => void): Promise<void> {
    await this.ensureBucket();
    const parts = new PartReader(body.getReader() as ReadableStreamDefaultReader<Uint8Array>, PART_SIZE);
    const target = { Bucket: this.config.bucket, Key: key };
    let part = await parts.next();
    if (part.length < PART_SIZE) {
      await this.s3.send(new PutObjectCommand({ ...target, Body: part, ContentType: "application/octet-stream" }));
      onProgress?.(part.length);
      return;
    }
    const { UploadId } = await this.s3.send(new CreateMultipartUploadCommand({ ...target, ContentType: "application/octet-stream" }));
    const done: { PartNumber: number; ETag: string }[] = [];
    const inFlight = new Set<Promise<void>>();
    let failure: unknown;
    let stored = 0;
    try {
      for (let number = 1; part.length > 0; number++) {
        const bytes = part;
        const PartNumber = number;
        const upload: Promise<void> = this.s3.send(new UploadPartCommand({ ...target, UploadId, PartNumber, Body: bytes })).then(
          (reply) => {
            done.push({ PartNumber, ETag: reply.ETag! });
            stored += bytes.length;
            onProgress?.(stored);
            parts.release(bytes);
          },
          (err) => void (failure ??= err),
        );
        inFlight.add(upload);
        void upload.finally(() => inFlight.delete(upload));
        if (inFlight.size >= PARTS_IN_FLIGHT) await Promise.race(inFlight);
        if (failure) throw failure;
        part = await parts.next();
      }
      await Promise.all(inFlight);
      if (failure) throw failure;
      done.sort((a, b) => a.PartNumber - b.PartNumber);
      await this.s3.send(new CompleteMultipartUploadCommand({ ...target, UploadId, MultipartUpload: { Parts: done } }));
    } catch (err) {
      await Promise.all(inFlight);
      await this.s3.send(new AbortMultipartUploadCommand({ ...target, UploadId })).catch((abortErr: Error) => {
        throw new Error(`${(err as Error).message}; aborting the multipart upload ${UploadId} failed too: ${abortErr.message}`);
      });
      throw err;
    }
  }

  /** The bytes of an object: `bucket` defaults to the image bucket. */
  async get(key: string, bucket = this.config.bucket): Promise<{ body: ReadableStream<Uint8Array>; size?: number }> {
    const object = await this.s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
    if (!object.Body) throw new Error(`s3://${bucket}/${key} has no body`);
    return { body: object.Body.transformToWebStream() as ReadableStream<Uint8Array>, size: object.ContentLength };
  }

  async delete(key: string): Promise<void> {
    await this.s3.send(new DeleteObjectCommand({ Bucket: this.config.bucket, Key: key }));
  }
}

/**
 * Cuts a byte stream into parts of `size` bytes (the last one shorter; empty
 * once the stream is done), into buffers that are handed back with `release`
 * once uploaded and reused: fresh 16 MiB buffers per part pile up faster than
 * the garbage collector returns them.
 */
class PartReader {
  private carry: Uint8Array | undefined;
  private readonly free: Buffer[] = [];

  release(part: Buffer): void {
    if (part.buffer.byteLength === this.size) this.free.push(Buffer.from(part.buffer, 0, this.size));
  }

  constructor(
    private readonly reader: ReadableStreamDefaultReader<Uint8Array>,
    private readonly size: number,
  ) {}

  async next(): Promise<Buffer> {
    const part = this.free.pop() ?? Buffer.allocUnsafeSlow(this.size);
    let filled = 0;
    while (filled < this.size) {
      let chunk = this.carry;
      this.carry = undefined;
      if (!chunk) {
        const { done, value } = await this.reader.read();
        if (done) break;
        chunk = value;
      }
      const take = Math.min(chunk.length, this.size - filled);
      part.set(chunk.subarray(0, take), filled);
      filled += take;
      if (take < chunk.length) this.carry = chunk.subarray(take);
    }
    return part.subarray(0, filled);
  }
}
