import { expect, test } from "bun:test";
import { ListBucketsCommand, S3Client, S3ServiceException } from "@aws-sdk/client-s3";
import { readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { runPhoton, startPhoton, tempDir } from "../helpers/photon.ts";

const client = (endpoint: string, accessKeyId: string, secretAccessKey: string) =>
  new S3Client({ endpoint, region: "us-east-1", forcePathStyle: true, credentials: { accessKeyId, secretAccessKey } });

test("first start writes a root key (0600); keys made with `photon s3 key` work until deleted", async () => {
  using dir = tempDir("photon-s3keys-");
  const dataDir = join(dir.path, "data");
  await using gw = startPhoton(["s3-gateway", "--data-dir", dataDir, "--listen", "127.0.0.1:0", "--admin", "127.0.0.1:0"]);
  const endpoint = await gw.url("s3");
  const admin = await gw.url();
  const keyFile = join(dataDir, "root-key");
  expect(statSync(keyFile).mode & 0o777).toBe(0o600);
  const root = readFileSync(keyFile, "utf8");
  const rootClient = client(endpoint, /AWS_ACCESS_KEY_ID=(.+)/.exec(root)![1]!, /AWS_SECRET_ACCESS_KEY=(.+)/.exec(root)![1]!);
  expect((await rootClient.send(new ListBucketsCommand({}))).Buckets ?? []).toEqual([]);
  // The secret never appears in the logs.
  expect(gw.rawStderr.join("")).not.toContain(/AWS_SECRET_ACCESS_KEY=(.+)/.exec(root)![1]!);

  const cli = (...args: string[]) => runPhoton([...args, "--server", admin, "--data-dir", dataDir]);
  const created = JSON.parse((await cli("s3", "key", "create", "ci", "--json")).stdout) as { accessKey: string; secretKey: string };
  const ci = client(endpoint, created.accessKey, created.secretKey);
  expect((await ci.send(new ListBucketsCommand({}))).$metadata.httpStatusCode).toBe(200);
  const listed = JSON.parse((await cli("s3", "key", "list", "--json")).stdout) as { accessKey: string; name: string }[];
  expect(listed.map((k) => k.name)).toEqual(["root", "ci"]);
  expect(JSON.stringify(listed)).not.toContain(created.secretKey);

  expect((await cli("s3", "key", "delete", created.accessKey)).code).toBe(0);
  const refused = await ci.send(new ListBucketsCommand({})).catch((e: unknown) => e);
  expect(refused).toBeInstanceOf(S3ServiceException);
  expect((refused as S3ServiceException).name).toBe("InvalidAccessKeyId");
  rootClient.destroy();
  ci.destroy();
});

test("objects survive a restart, and leftovers of interrupted uploads are removed at start", async () => {
  const { CreateBucketCommand, GetObjectCommand, PutObjectCommand } = await import("@aws-sdk/client-s3");
  const { mkdirSync, readdirSync, writeFileSync } = await import("node:fs");
  using dir = tempDir("photon-s3restart-");
  const dataDir = join(dir.path, "data");
  const env = { PHOTON_TOKEN: "t", PHOTON_ACCESS_KEY: "PHRESTART00000000000", PHOTON_SECRET_KEY: "restart-secret" };
  const args = ["s3-gateway", "--data-dir", dataDir, "--listen", "127.0.0.1:0", "--admin", "127.0.0.1:0"];
  await using first = startPhoton(args, { env });
  let s3 = client(await first.url("s3"), env.PHOTON_ACCESS_KEY, env.PHOTON_SECRET_KEY);
  await s3.send(new CreateBucketCommand({ Bucket: "durable" }));
  await s3.send(new PutObjectCommand({ Bucket: "durable", Key: "k", Body: "survives" }));
  s3.destroy();
  expect(await first.stop()).toBe(0);
  // What a crash mid-upload leaves: a half-written temporary file and a chunk no object refers to.
  mkdirSync(join(dataDir, "chunks", "ff"), { recursive: true });
  writeFileSync(join(dataDir, "chunks", "ff", "ffff0000-0000-4000-8000-000000000000.tmp"), "partial");
  writeFileSync(join(dataDir, "chunks", "ff", "ffff0000-0000-4000-8000-000000000001"), "orphan");
  await using gw = startPhoton(args, { env });
  s3 = client(await gw.url("s3"), env.PHOTON_ACCESS_KEY, env.PHOTON_SECRET_KEY);
  const got = await s3.send(new GetObjectCommand({ Bucket: "durable", Key: "k" }));
  expect(await got.Body!.transformToString()).toBe("survives");
  expect(readdirSync(join(dataDir, "chunks", "ff"))).toEqual([]);
  await gw.waitForLog((l) => l.msg === "removed leftover chunks of interrupted uploads" && l.chunks === 2, "sweep log");
  s3.destroy();
  expect(await gw.stop()).toBe(0);
});
