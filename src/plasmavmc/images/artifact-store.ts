import { Readable } from "node:stream";
import { CreateBucketCommand, DeleteObjectCommand, GetObjectCommand, HeadBucketCommand, S3Client } from "@aws-sdk/client-s3";
import { Upload } from "@aws-sdk/lib-storage";

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

  constructor(readonly config: ArtifactConfig) {
    this.s3 = new S3Client({
      endpoint: config.endpoint,
      region: config.region,
      forcePathStyle: true,
      credentials: config.credentials,
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

  /** Streams `body` into `key` with a multipart upload; `onProgress` sees the bytes sent so far. */
  async put(key: string, body: ReadableStream<Uint8Array>, onProgress?: (bytes: number) => void): Promise<void> {
    await this.ensureBucket();
    const upload = new Upload({
      client: this.s3,
      params: { Bucket: this.config.bucket, Key: key, Body: Readable.fromWeb(body as never), ContentType: "application/octet-stream" },
      partSize: PART_SIZE,
      queueSize: PARTS_IN_FLIGHT,
    });
    if (onProgress) upload.on("httpUploadProgress", (p) => p.loaded !== undefined && onProgress(p.loaded));
    await upload.done();
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
