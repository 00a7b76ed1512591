import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { CreateBucketCommand, ListObjectsV2Command, PutObjectCommand, type S3Client } from "@aws-sdk/client-s3";
import { randomBytes } from "node:crypto";
import { mkdirSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { aws } from "../helpers/awscli.ts";
import { runPhoton, tempDir } from "../helpers/photon.ts";
import { rclone } from "../helpers/rclone.ts";
import { startGateway, type TestGateway } from "../helpers/s3-gateway.ts";

/**
 * A key scoped to one bucket, used by the Go (rclone) and Python (awscli)
 * clients as their users run them: list, copy and sync work on its bucket;
 * on another bucket every command exits non-zero with AccessDenied and
 * writes nothing.
 */

let gw: TestGateway;
let root: S3Client;
const home = tempDir("photon-interop-keys-");
const local = join(home.path, "local");
let alice: { endpoint: string; credentials: { accessKeyId: string; secretAccessKey: string } };

const keysIn = async (Bucket: string, Prefix = "") => ((await root.send(new ListObjectsV2Command({ Bucket, Prefix }))).Contents ?? []).map((o) => o.Key).sort();

beforeAll(async () => {
  gw = await startGateway();
  root = gw.client();
  for (const bucket of ["team-a", "team-b"]) {
    await root.send(new CreateBucketCommand({ Bucket: bucket }));
    await root.send(new PutObjectCommand({ Bucket: bucket, Key: "hello.txt", Body: `hello from ${bucket}` }));
  }
  const created = await runPhoton(["s3", "key", "create", "alice", "--allow", "team-a:read,write", "--json", "--server", gw.admin, "--token", gw.token]);
  expect(created.code).toBe(0);
  const key = JSON.parse(created.stdout) as { accessKey: string; secretKey: string };
  alice = { endpoint: gw.endpoint, credentials: { accessKeyId: key.accessKey, secretAccessKey: key.secretKey } };
  mkdirSync(local);
  for (const name of ["a.txt", "b.bin"]) writeFileSync(join(local, name), randomBytes(100_000));
});

afterAll(async () => {
  root.destroy();
  await gw[Symbol.asyncDispose]();
  home[Symbol.dispose]();
});

/** Expects a client's command to have failed with S3's AccessDenied (a HEAD, which has no body to name it, as a bare 403 Forbidden). */
function expectDenied(result: { code: number; stderr: string }, head = false): void {
  expect(result.code).not.toBe(0);
  expect(result.stderr).toMatch(head ? /\(403\).*HeadObject.*Forbidden/ : /AccessDenied/);
}

describe("a key scoped to one bucket", () => {
  test("rclone lists, copies and syncs in its bucket (sync deleting what went locally); on another bucket lsf, copy and sync exit non-zero with AccessDenied and write nothing", async () => {
    const ph = (...args: string[]) => rclone(alice, home.path, args);
    const listed = await ph("lsf", "ph:team-a");
    expect({ code: listed.code, stdout: listed.stdout }).toEqual({ code: 0, stdout: "hello.txt\n" });
    expect((await ph("copy", local, "ph:team-a/copied")).code).toBe(0);
    expect((await ph("sync", local, "ph:team-a/synced")).code).toBe(0);
    rmSync(join(local, "b.bin"));
    writeFileSync(join(local, "c.txt"), "new");
    expect((await ph("sync", local, "ph:team-a/synced")).code).toBe(0);
    expect(await keysIn("team-a")).toEqual(["copied/a.txt", "copied/b.bin", "hello.txt", "synced/a.txt", "synced/c.txt"]);
    const check = await ph("check", local, "ph:team-a/synced");
    expect(check.code).toBe(0);

    expectDenied(await ph("lsf", "ph:team-b"));
    expectDenied(await ph("copy", local, "ph:team-b/copied"));
    expectDenied(await ph("sync", local, "ph:team-b/synced"));
    expectDenied(await ph("copyto", "ph:team-b/hello.txt", join(home.path, "stolen.txt")));
    expect(await keysIn("team-b")).toEqual(["hello.txt"]);
  }, 120_000);

  test("awscli lists, copies and syncs in its bucket; on another bucket ls, cp and sync exit non-zero with AccessDenied and write nothing", async () => {
    const ls = await aws(alice, home.path, "s3", "ls", "s3://team-a/");
    expect(ls.code).toBe(0);
    expect(ls.stdout.toString()).toContain("hello.txt");
    expect((await aws(alice, home.path, "s3", "cp", join(local, "a.txt"), "s3://team-a/aws/a.txt")).code).toBe(0);
    expect((await aws(alice, home.path, "s3", "sync", local, "s3://team-a/aws-sync")).code).toBe(0);
    rmSync(join(local, "c.txt"));
    expect((await aws(alice, home.path, "s3", "sync", "--delete", local, "s3://team-a/aws-sync")).code).toBe(0);
    expect(await keysIn("team-a", "aws")).toEqual(["aws-sync/a.txt", "aws/a.txt"]);

    expectDenied(await aws(alice, home.path, "s3", "ls", "s3://team-b/"));
    expectDenied(await aws(alice, home.path, "s3", "cp", join(local, "a.txt"), "s3://team-b/aws/a.txt"));
    expectDenied(await aws(alice, home.path, "s3", "sync", local, "s3://team-b/aws-sync"));
    expectDenied(await aws(alice, home.path, "s3", "cp", "s3://team-b/hello.txt", join(home.path, "stolen.txt")), true);
    expect(await keysIn("team-b")).toEqual(["hello.txt"]);
  }, 120_000);
});
