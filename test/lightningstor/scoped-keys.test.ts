import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import {
  CopyObjectCommand,
  CreateBucketCommand,
  DeleteBucketCommand,
  DeleteObjectCommand,
  GetObjectCommand,
  HeadBucketCommand,
  ListBucketsCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  S3Client,
} from "@aws-sdk/client-s3";
import { getSignedUrl } from "@aws-sdk/s3-request-presigner";
import { aws } from "../helpers/awscli.ts";
import { runPhoton, tempDir } from "../helpers/photon.ts";
import { s3Error, startGateway, type TestGateway } from "../helpers/s3-gateway.ts";

type CreatedKey = { accessKey: string; secretKey: string; access: string };

let gw: TestGateway;
let root: S3Client;
const clients: S3Client[] = [];
using home = tempDir("photon-scoped-home-");

/** `photon s3 …` against the test gateway; fails the test on a non-zero exit unless `allowFailure`. */
async function cli(args: string[], allowFailure = false): Promise<{ code: number; stdout: string; stderr: string }> {
  const result = await runPhoton(["s3", ...args, "--server", gw.admin, "--token", gw.token]);
  if (!allowFailure && result.code !== 0) throw new Error(`photon s3 ${args.join(" ")} failed: ${result.stderr}`);
  return result;
}

/** A new key made with `photon s3 key create NAME …`, and an SDK client (default settings) using it. */
async function newKey(name: string, ...flags: string[]): Promise<{ key: CreatedKey; s3: S3Client }> {
  const key = JSON.parse((await cli(["key", "create", name, ...flags, "--json"])).stdout) as CreatedKey;
  const s3 = gw.client({ credentials: { accessKeyId: key.accessKey, secretAccessKey: key.secretKey } });
  clients.push(s3);
  return { key, s3 };
}

const bucketNames = async (s3: S3Client) => ((await s3.send(new ListBucketsCommand({}))).Buckets ?? []).map((b) => b.Name);
const body = async (s3: S3Client, Bucket: string, Key: string) => (await s3.send(new GetObjectCommand({ Bucket, Key }))).Body!.transformToString();

beforeAll(async () => {
  gw = await startGateway();
  root = gw.client();
  for (const bucket of ["team-a", "team-b", "site"]) {
    await root.send(new CreateBucketCommand({ Bucket: bucket }));
    await root.send(new PutObjectCommand({ Bucket: bucket, Key: "hello.txt", Body: `hello from ${bucket}` }));
  }
});

afterAll(async () => {
  for (const s3 of [root, ...clients]) s3.destroy();
  await gw[Symbol.asyncDispose]();
});

describe("keys scoped to buckets", () => {
  test("a scoped key works on its bucket; other buckets are 403 and absent from ListBuckets (SDK, awscli, presigned URLs)", async () => {
    const { key, s3 } = await newKey("alice", "--allow", "team-a:read,write");
    expect(key.access).toBe("scoped");
    expect(await bucketNames(s3)).toEqual(["team-a"]);
    expect(await bucketNames(root)).toEqual(["site", "team-a", "team-b"]);
    await s3.send(new PutObjectCommand({ Bucket: "team-a", Key: "alice.txt", Body: "mine" }));
    expect(await body(s3, "team-a", "alice.txt")).toBe("mine");

    expect(await s3Error(s3.send(new GetObjectCommand({ Bucket: "team-b", Key: "hello.txt" })))).toEqual({ name: "AccessDenied", status: 403 });
    expect(await s3Error(s3.send(new PutObjectCommand({ Bucket: "team-b", Key: "evil", Body: "x" })))).toEqual({ name: "AccessDenied", status: 403 });
    expect(await s3Error(s3.send(new ListObjectsV2Command({ Bucket: "team-b" })))).toEqual({ name: "AccessDenied", status: 403 });
    expect((await s3Error(s3.send(new HeadBucketCommand({ Bucket: "team-b" })))).status).toBe(403);
    // Write is not owner: the bucket itself stays.
    expect(await s3Error(s3.send(new DeleteBucketCommand({ Bucket: "team-a" })))).toEqual({ name: "AccessDenied", status: 403 });
    expect(await bucketNames(root)).toContain("team-a");

    const creds = { endpoint: gw.endpoint, credentials: { accessKeyId: key.accessKey, secretAccessKey: key.secretKey } };
    const ls = await aws(creds, home.path, "s3", "ls");
    expect(ls.code).toBe(0);
    expect(ls.stdout.toString()).toContain("team-a");
    expect(ls.stdout.toString()).not.toContain("team-b");
    const refused = await aws(creds, home.path, "s3", "cp", "s3://team-b/hello.txt", "-");
    expect(refused.code).not.toBe(0);
    expect(refused.stderr).toMatch(/403|AccessDenied|Forbidden/);

    // A presigned URL carries its key's rights.
    const allowed = await fetch(await getSignedUrl(s3, new GetObjectCommand({ Bucket: "team-a", Key: "hello.txt" }), { expiresIn: 300 }));
    expect(await allowed.text()).toBe("hello from team-a");
    const denied = await fetch(await getSignedUrl(s3, new GetObjectCommand({ Bucket: "team-b", Key: "hello.txt" }), { expiresIn: 300 }));
    expect(denied.status).toBe(403);
    expect(await denied.text()).toContain("<Code>AccessDenied</Code>");
  });

  test("a read-only key cannot PUT or DELETE, and what it could not delete is still there", async () => {
    const { s3 } = await newKey("reader", "--allow", "team-a:read");
    expect(await body(s3, "team-a", "hello.txt")).toBe("hello from team-a");
    expect(await s3Error(s3.send(new PutObjectCommand({ Bucket: "team-a", Key: "hello.txt", Body: "overwritten" })))).toEqual({ name: "AccessDenied", status: 403 });
    expect(await s3Error(s3.send(new DeleteObjectCommand({ Bucket: "team-a", Key: "hello.txt" })))).toEqual({ name: "AccessDenied", status: 403 });
    expect(await body(root, "team-a", "hello.txt")).toBe("hello from team-a");
  });

  test("a copy from a bucket the key may not read is 403 until `key allow --read`, and again after `key deny`", async () => {
    const { key, s3 } = await newKey("copier", "--allow", "team-a:write");
    const copy = () => s3.send(new CopyObjectCommand({ Bucket: "team-a", Key: "copied.txt", CopySource: "team-b/hello.txt" }));
    expect(await s3Error(copy())).toEqual({ name: "AccessDenied", status: 403 });
    expect(await s3Error(root.send(new GetObjectCommand({ Bucket: "team-a", Key: "copied.txt" })))).toEqual({ name: "NoSuchKey", status: 404 });

    await cli(["key", "allow", key.accessKey, "team-b", "--read"]);
    await copy();
    expect(await body(root, "team-a", "copied.txt")).toBe("hello from team-b");
    await cli(["key", "deny", key.accessKey, "team-b"]);
    expect(await s3Error(copy())).toEqual({ name: "AccessDenied", status: 403 });

    const listed = JSON.parse((await cli(["key", "list", "--json"])).stdout) as { accessKey: string; access: string; grants: { bucket: string; read: boolean; write: boolean; owner: boolean }[] }[];
    const copier = listed.find((k) => k.accessKey === key.accessKey)!;
    expect(copier.grants).toEqual([{ bucket: "team-a", read: false, write: true, owner: false }]);
    expect((await cli(["key", "list"])).stdout).toMatch(new RegExp(`${key.accessKey}\\s+copier\\s+team-a:-w-`));
  });

  test("CreateBucket needs the create right; the creator owns the bucket, and a bucket of someone else's is BucketAlreadyExists", async () => {
    const { key, s3 } = await newKey("maker");
    expect(await s3Error(s3.send(new CreateBucketCommand({ Bucket: "maker-bucket" })))).toEqual({ name: "AccessDenied", status: 403 });
    expect(await bucketNames(root)).not.toContain("maker-bucket");

    await cli(["key", "allow", key.accessKey, "--create-bucket"]);
    await s3.send(new CreateBucketCommand({ Bucket: "maker-bucket" }));
    await s3.send(new PutObjectCommand({ Bucket: "maker-bucket", Key: "k", Body: "12345" }));
    expect(await bucketNames(s3)).toEqual(["maker-bucket"]);
    const info = JSON.parse((await cli(["bucket", "info", "maker-bucket", "--json"])).stdout) as { objects: number; bytes: number; keys: { accessKey: string; read: boolean; write: boolean; owner: boolean }[] };
    expect({ objects: info.objects, bytes: info.bytes }).toEqual({ objects: 1, bytes: 5 });
    expect(info.keys.find((k) => k.accessKey === key.accessKey)).toMatchObject({ read: true, write: true, owner: true });
    expect(info.keys.find((k) => k.accessKey === gw.credentials.accessKeyId)).toMatchObject({ access: "root" });

    expect(await s3Error(s3.send(new CreateBucketCommand({ Bucket: "team-a" })))).toEqual({ name: "BucketAlreadyExists", status: 409 });
    // Another key may not see or use it; the root key may.
    const { s3: other } = await newKey("other", "--allow", "team-a:read");
    expect(await s3Error(other.send(new GetObjectCommand({ Bucket: "maker-bucket", Key: "k" })))).toEqual({ name: "AccessDenied", status: 403 });
    expect(await body(root, "maker-bucket", "k")).toBe("12345");

    await s3.send(new DeleteObjectCommand({ Bucket: "maker-bucket", Key: "k" }));
    await s3.send(new DeleteBucketCommand({ Bucket: "maker-bucket" }));
    expect(await bucketNames(root)).not.toContain("maker-bucket");
  });

  test("bad rights changes are refused with a clear error and change nothing", async () => {
    const { key } = await newKey("careful", "--allow", "team-a:read");
    const missingBucket = await cli(["key", "allow", key.accessKey, "no-such-bucket", "--read"], true);
    expect(missingBucket.code).not.toBe(0);
    expect(missingBucket.stderr).toContain("no-such-bucket");
    const onRoot = await cli(["key", "deny", gw.credentials.accessKeyId, "team-a"], true);
    expect(onRoot.code).not.toBe(0);
    expect(onRoot.stderr).toContain("root key");
    const badAllow = await cli(["key", "create", "typo", "--allow", "team-a:admin"], true);
    expect(badAllow.code).not.toBe(0);
    expect(badAllow.stderr).toContain("not a right");
    const createMissing = await cli(["key", "create", "ghost", "--allow", "nowhere:read"], true);
    expect(createMissing.code).not.toBe(0);
    const listed = JSON.parse((await cli(["key", "list", "--json"])).stdout) as { name: string; accessKey: string; grants: unknown[] }[];
    expect(listed.map((k) => k.name)).not.toContain("ghost");
    expect(listed.find((k) => k.accessKey === key.accessKey)!.grants).toEqual([{ bucket: "team-a", read: true, write: false, owner: false }]);
  });
});

describe("public buckets", () => {
  test("anonymous GET works only after `bucket public on` and until `off`; anonymous PUT and DELETE never", async () => {
    const url = `${gw.endpoint}/site/hello.txt`;
    expect((await fetch(url)).status).toBe(403);
    await cli(["bucket", "public", "site", "on"]);
    const got = await fetch(url);
    expect(got.status).toBe(200);
    expect(await got.text()).toBe("hello from site");
    const put = await fetch(url, { method: "PUT", body: "defaced" });
    expect(put.status).toBe(403);
    expect(await put.text()).toContain("<Code>AccessDenied</Code>");
    expect((await fetch(url, { method: "DELETE" })).status).toBe(403);
    expect((await fetch(`${gw.endpoint}/site`, { method: "DELETE" })).status).toBe(403);
    expect(await body(root, "site", "hello.txt")).toBe("hello from site");
    // Other buckets stay private, and anonymous requests list no buckets.
    expect((await fetch(`${gw.endpoint}/team-a/hello.txt`)).status).toBe(403);
    expect((await fetch(`${gw.endpoint}/`)).status).toBe(403);
    const listed = JSON.parse((await cli(["bucket", "list", "--json"])).stdout) as { name: string; publicRead: boolean }[];
    expect(listed.filter((b) => b.publicRead).map((b) => b.name)).toEqual(["site"]);

    await cli(["bucket", "public", "site", "off"]);
    expect((await fetch(url)).status).toBe(403);
    expect((await cli(["bucket", "public", "nowhere", "on"], true)).code).not.toBe(0);
  });
});
