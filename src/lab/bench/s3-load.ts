import { randomBytes } from "node:crypto";

/** One S3 profile as the client on a lab node runs it. */
export interface S3LoadOptions {
  endpoint: string;
  bucket: string;
  /** Keys are `<prefix>/<i>`. */
  prefix: string;
  count: number;
  sizeBytes: number;
  concurrency: number;
  credentials: { accessKeyId: string; secretAccessKey: string };
  /** A TLS lab's CA (PEM) the endpoint is verified against. */
  ca?: string;
}

/** Seconds the PUT phase and the GET phase took. */
export interface S3LoadResult {
  putSeconds: number;
  getSeconds: number;
}

/**
 * PUTs `count` objects of random bytes with at most `concurrency` in flight,
 * then GETs them all (checking each length), then deletes them (not timed),
 * with `@aws-sdk/client-s3` at default settings — what `photon lab s3-load`
 * runs on the S3 client's node.
 */
export async function runS3Load(options: S3LoadOptions): Promise<S3LoadResult> {
  const { S3Client, CreateBucketCommand, PutObjectCommand, GetObjectCommand, DeleteObjectsCommand } = await import("@aws-sdk/client-s3");
  const { Agent } = await import("node:https");
  const s3 = new S3Client({
    endpoint: options.endpoint,
    region: "us-east-1",
    forcePathStyle: true,
    credentials: options.credentials,
    ...(options.ca === undefined ? {} : { requestHandler: { httpsAgent: new Agent({ ca: options.ca, keepAlive: true }) } }),
  });
  try {
    await s3.send(new CreateBucketCommand({ Bucket: options.bucket })).catch((err: { name?: string }) => {
      if (err.name !== "BucketAlreadyOwnedByYou" && err.name !== "BucketAlreadyExists") throw err;
    });
    const body = randomBytes(options.sizeBytes);
    const key = (i: number) => `${options.prefix}/${i}`;
    const putSeconds = await timed(options.count, options.concurrency, async (i) => {
      await s3.send(new PutObjectCommand({ Bucket: options.bucket, Key: key(i), Body: body }));
    });
    const getSeconds = await timed(options.count, options.concurrency, async (i) => {
      const out = await s3.send(new GetObjectCommand({ Bucket: options.bucket, Key: key(i) }));
      let length = 0;
      for await (const chunk of out.Body as AsyncIterable<Uint8Array>) length += chunk.length;
      if (length !== options.sizeBytes) throw new Error(`GET ${key(i)}: ${length} bytes, expected ${options.sizeBytes}`);
    });
    const keys = Array.from({ length: options.count }, (_, i) => ({ Key: key(i) }));
    for (let i = 0; i < keys.length; i += 1000) {
      await s3.send(new DeleteObjectsCommand({ Bucket: options.bucket, Delete: { Objects: keys.slice(i, i + 1000) } }));
    }
    return { putSeconds, getSeconds };
  } finally {
    s3.destroy();
  }
}

/** Runs `count` operations with at most `concurrency` in flight; resolves to the seconds taken. */
async function timed(count: number, concurrency: number, op: (i: number) => Promise<void>): Promise<number> {
  const started = performance.now();
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(concurrency, count) }, async () => {
      while (next < count) await op(next++);
    }),
  );
  return (performance.now() - started) / 1000;
}
