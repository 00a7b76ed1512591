import { afterAll, beforeAll, expect, test } from "bun:test";
import { CreateBucketCommand, GetObjectCommand, PutObjectCommand, S3Client, S3ServiceException } from "@aws-sdk/client-s3";
import { createHash, randomBytes } from "node:crypto";
import { waitFor } from "../helpers/photon.ts";
import { startPostgres, type TestPostgres } from "../helpers/postgres.ts";
import { startGateway, type TestGateway } from "../helpers/s3-gateway.ts";

/**
 * The gateway's PostgreSQL goes away under load and comes back: clear 503s
 * while it is away, nothing acknowledged lost, service resumed by itself.
 * The compiled binary, a real PostgreSQL server, the AWS SDK.
 */

const sha256 = (data: Uint8Array) => createHash("sha256").update(data).digest("hex");
let pg: TestPostgres;
let gw: TestGateway;
let s3: S3Client;

beforeAll(async () => {
  pg = startPostgres();
  gw = await startGateway({ args: ["--metadata", await pg.createDatabase()] });
  // No retries: each answer is seen as the gateway gave it.
  s3 = gw.client({ maxAttempts: 1 });
  await s3.send(new CreateBucketCommand({ Bucket: "pg-restart" }));
});

afterAll(async () => {
  s3.destroy();
  await gw[Symbol.asyncDispose]();
  pg.stop();
});

test("PostgreSQL restarted under load: 503 ServiceUnavailable while it is away, every acknowledged PUT there after, and service resumes without a gateway restart", async () => {
  const acknowledged = new Map<string, string>();
  const failures: number[] = [];
  let stop = false;
  let n = 0;
  const writer = async () => {
    while (!stop) {
      const key = `k${n++}`;
      const data = randomBytes(2000);
      try {
        await s3.send(new PutObjectCommand({ Bucket: "pg-restart", Key: key, Body: data }));
        acknowledged.set(key, sha256(data));
      } catch (err) {
        if (!(err instanceof S3ServiceException)) throw err;
        failures.push(err.$metadata.httpStatusCode ?? 0);
      }
    }
  };
  const writers = Array.from({ length: 4 }, writer);
  await waitFor(() => acknowledged.size >= 20, "PUTs acknowledged before the restart");

  pg.stopServer();
  // While it is away: a clear 503 for writes, reads and the readiness probe alike.
  const down = await s3.send(new PutObjectCommand({ Bucket: "pg-restart", Key: "while-down", Body: "x" })).catch((err: S3ServiceException) => err);
  expect(down).toBeInstanceOf(S3ServiceException);
  expect([(down as S3ServiceException).name, (down as S3ServiceException).$metadata.httpStatusCode]).toEqual(["ServiceUnavailable", 503]);
  expect((await fetch(`${gw.endpoint}/health/ready`)).status).toBe(503);
  const ackedWhileDown = acknowledged.size;

  pg.startServer();
  await waitFor(async () => (await fetch(`${gw.endpoint}/health/ready`)).status === 200, "the gateway ready again");
  await waitFor(() => acknowledged.size >= ackedWhileDown + 20, "PUTs acknowledged after the restart");
  stop = true;
  await Promise.all(writers);

  expect(failures.every((status) => status === 503)).toBe(true);
  for (const [key, digest] of acknowledged) {
    const out = await s3.send(new GetObjectCommand({ Bucket: "pg-restart", Key: key }));
    expect(sha256(await out.Body!.transformToByteArray())).toBe(digest);
  }
  // A PUT answered 503 may still have committed (the connection went mid-commit): such an object reads whole, or is absent.
  for (let i = 0; i < n; i++) {
    if (acknowledged.has(`k${i}`)) continue;
    const status = await s3.send(new GetObjectCommand({ Bucket: "pg-restart", Key: `k${i}` })).then(
      async (out) => (await out.Body!.transformToByteArray()).length === 2000 && 200,
      (err: S3ServiceException) => err.$metadata.httpStatusCode,
    );
    expect([200, 404]).toContain(status as number);
  }
}, 90_000);
