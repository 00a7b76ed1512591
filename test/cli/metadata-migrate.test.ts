import { afterAll, beforeAll, expect, test } from "bun:test";
import { CreateBucketCommand, CreateMultipartUploadCommand, GetObjectCommand, ListMultipartUploadsCommand, ListObjectsV2Command, PutObjectCommand, S3Client } from "@aws-sdk/client-s3";
import { SQL } from "bun";
import { join } from "node:path";
import { authed, runPhoton, startPhoton, tempDir, type PhotonProcess } from "../helpers/photon.ts";
import { startPostgres, type TestPostgres } from "../helpers/postgres.ts";
import { s3Error } from "../helpers/s3-gateway.ts";

/**
 * `photon metadata migrate`: a gateway's SQLite metadata copied into a new
 * PostgreSQL database, then the gateway started on it from the same data dir
 * (its chunks and secrets key) — driven through the binary, the AWS SDK and
 * a real PostgreSQL server.
 */

let pg: TestPostgres;
let dir: ReturnType<typeof tempDir>;
const credentials = { accessKeyId: "PHTESTKEY0000000000A", secretAccessKey: "test-secret-" + crypto.randomUUID() };
const token = "test-token-" + crypto.randomUUID();

beforeAll(() => {
  pg = startPostgres();
  dir = tempDir("photon-migrate-");
});
afterAll(() => {
  pg.stop();
  dir[Symbol.dispose]();
});

async function gateway(dataDir: string, metadata: string): Promise<{ proc: PhotonProcess; s3: S3Client; admin: string }> {
  const proc = startPhoton(["s3-gateway", "--data-dir", dataDir, "--listen", "127.0.0.1:0", "--admin", "127.0.0.1:0", "--metadata", metadata], {
    env: { PHOTON_TOKEN: token, PHOTON_ACCESS_KEY: credentials.accessKeyId, PHOTON_SECRET_KEY: credentials.secretAccessKey },
  });
  const endpoint = await proc.url("s3");
  return { proc, admin: await proc.url(), s3: new S3Client({ endpoint, region: "us-east-1", forcePathStyle: true, credentials }) };
}

test("a stopped gateway's buckets, objects, uploads and scoped keys are served from PostgreSQL after `metadata migrate`, and a second copy into the same database is refused", async () => {
  const dataDir = join(dir.path, "gw");
  const before = await gateway(dataDir, "sqlite");
  await before.s3.send(new CreateBucketCommand({ Bucket: "kept" }));
  for (const key of ["a", "dir/b", "dir/c"]) await before.s3.send(new PutObjectCommand({ Bucket: "kept", Key: key, Body: `body of ${key}`, ContentType: "text/x-kept" }));
  const { UploadId } = await before.s3.send(new CreateMultipartUploadCommand({ Bucket: "kept", Key: "pending" }));
  const created = await fetch(`${before.admin}/v1/s3/keys`, authed(token, { method: "POST", body: JSON.stringify({ name: "reader", allow: [{ bucket: "kept", read: true }] }) }));
  const reader = (await created.json()) as { accessKey: string; secretKey: string };
  before.s3.destroy();
  await before.proc.stop();

  const url = await pg.createDatabase();
  const migrated = await runPhoton(["metadata", "migrate", "--from", `sqlite:${dataDir}`, "--to", url]);
  expect(migrated.stderr).toBe("");
  expect(migrated.code).toBe(0);
  expect(migrated.stdout).toContain("objects 3");

  const after = await gateway(dataDir, url);
  try {
    const listed = await after.s3.send(new ListObjectsV2Command({ Bucket: "kept" }));
    expect(listed.Contents?.map((o) => o.Key)).toEqual(["a", "dir/b", "dir/c"]);
    const got = await after.s3.send(new GetObjectCommand({ Bucket: "kept", Key: "dir/b" }));
    expect([await got.Body!.transformToString(), got.ContentType]).toEqual(["body of dir/b", "text/x-kept"]);
    const uploads = await after.s3.send(new ListMultipartUploadsCommand({ Bucket: "kept" }));
    expect(uploads.Uploads?.map((u) => u.UploadId)).toEqual([UploadId]);
    const readerS3 = new S3Client({ endpoint: after.s3.config.endpoint, region: "us-east-1", forcePathStyle: true, credentials: { accessKeyId: reader.accessKey, secretAccessKey: reader.secretKey } });
    expect(await (await readerS3.send(new GetObjectCommand({ Bucket: "kept", Key: "a" }))).Body!.transformToString()).toBe("body of a");
    expect(await s3Error(readerS3.send(new PutObjectCommand({ Bucket: "kept", Key: "x", Body: "no" })))).toEqual({ name: "AccessDenied", status: 403 });
    readerS3.destroy();
  } finally {
    after.s3.destroy();
    await after.proc.stop();
  }

  const again = await runPhoton(["metadata", "migrate", "--from", `sqlite:${join(dataDir, "s3-gateway.db")}`, "--to", url]);
  expect(again.code).not.toBe(0);
  expect(again.stderr).toContain("not empty");
  const db = new SQL(url);
  expect(await db`SELECT count(*)::int AS n FROM objects`).toEqual([{ n: 3 }]);
  await db.close();
});

test("bad arguments get a clear error and touch nothing", async () => {
  const url = await pg.createDatabase();
  const cases: [string[], string][] = [
    [["--from", "/nowhere.db", "--to", url], "expected sqlite:PATH"],
    [["--from", "sqlite:/nowhere", "--to", url], "does not exist"],
    [["--from", `sqlite:${dir.path}`, "--to", "mysql://db/x"], "--to"],
  ];
  for (const [args, message] of cases) {
    const result = await runPhoton(["metadata", "migrate", ...args]);
    expect(result.code).not.toBe(0);
    expect(result.stderr).toContain(message);
  }
});
