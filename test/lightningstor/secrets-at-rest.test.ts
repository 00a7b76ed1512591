import { expect, test } from "bun:test";
import { Database } from "bun:sqlite";
import { CreateBucketCommand, GetObjectCommand, ListBucketsCommand, PutObjectCommand, S3Client } from "@aws-sdk/client-s3";
import { chmodSync, existsSync, mkdirSync, readFileSync, rmSync, statSync } from "node:fs";
import { join } from "node:path";
import { applyMigrations } from "../../src/db/migrate.ts";
import { lightningstorMigrations } from "../../src/lightningstor/migrations/index.ts";
import { runPhoton, startPhoton, tempDir } from "../helpers/photon.ts";

const client = (endpoint: string, accessKeyId: string, secretAccessKey: string) =>
  new S3Client({ endpoint, region: "us-east-1", forcePathStyle: true, credentials: { accessKeyId, secretAccessKey } });

const modeOf = (path: string) => statSync(path).mode & 0o777;

/** The database's files as they are on disk: what a copy of the database would hold. */
function databaseBytes(dataDir: string): Buffer {
  const base = join(dataDir, "s3-gateway.db");
  return Buffer.concat([base, `${base}-wal`, `${base}-shm`].filter((f) => existsSync(f)).map((f) => readFileSync(f)));
}

const gatewayArgs = (dataDir: string) => ["s3-gateway", "--data-dir", dataDir, "--listen", "127.0.0.1:0", "--admin", "127.0.0.1:0"];

test("the database, its -wal and -shm and every key file are 0600; no secret key appears in the database's bytes", async () => {
  using dir = tempDir("photon-secrets-");
  const dataDir = join(dir.path, "data");
  await using gw = startPhoton(gatewayArgs(dataDir));
  const endpoint = await gw.url("s3");
  const admin = await gw.url();
  const rootFile = readFileSync(join(dataDir, "root-key"), "utf8");
  const rootSecret = /AWS_SECRET_ACCESS_KEY=(.+)/.exec(rootFile)![1]!;
  const created = JSON.parse((await runPhoton(["s3", "key", "create", "app", "--create-bucket", "--json", "--server", admin, "--data-dir", dataDir])).stdout) as { accessKey: string; secretKey: string };
  const s3 = client(endpoint, created.accessKey, created.secretKey);
  await s3.send(new CreateBucketCommand({ Bucket: "private" }));
  await s3.send(new PutObjectCommand({ Bucket: "private", Key: "k", Body: "v" }));

  const db = join(dataDir, "s3-gateway.db");
  // While the gateway runs, SQLite's WAL and shared-memory files exist beside the database.
  for (const file of [db, `${db}-wal`, `${db}-shm`, join(dataDir, "root-key"), join(dataDir, "s3-secrets.key"), join(dataDir, "cluster-token")]) {
    expect([file, modeOf(file)]).toEqual([file, 0o600]);
  }
  const bytes = databaseBytes(dataDir);
  expect(bytes.includes(created.accessKey)).toBe(true); // the check can see what is there
  expect(bytes.includes(created.secretKey)).toBe(false);
  expect(bytes.includes(rootSecret)).toBe(false);
  s3.destroy();
  expect(await gw.stop()).toBe(0);
  expect(databaseBytes(dataDir).includes(created.secretKey)).toBe(false);
});

test("the controller's database, its -wal and -shm and its cluster token are 0600", async () => {
  using dir = tempDir("photon-secrets-controller-");
  const dataDir = join(dir.path, "data");
  await using controller = startPhoton(["controller", "--data-dir", dataDir, "--listen", "127.0.0.1:0"]);
  await controller.url();
  const db = join(dataDir, "controller.db");
  for (const file of [db, `${db}-wal`, `${db}-shm`, join(dataDir, "cluster-token")]) expect([file, modeOf(file)]).toEqual([file, 0o600]);
});

test("an upgrade from the previous format keeps every key working: secrets sealed, keys made before scoping keep full access", async () => {
  using dir = tempDir("photon-secrets-upgrade-");
  const dataDir = join(dir.path, "data");
  mkdirSync(dataDir, { recursive: true });
  // The previous format (migrations up to 0004), as the previous version left it: 0644, plaintext secrets.
  const db = join(dataDir, "s3-gateway.db");
  const old = new Database(db, { create: true });
  old.run("PRAGMA journal_mode = WAL");
  applyMigrations(old, lightningstorMigrations.filter((m) => m.tag < "0005"));
  // Short secrets: their sealed values do not fit where they were, so the plaintext's bytes would stay in the freed space unless zeroed.
  const rootKey = { id: "PHOLDROOT00000000000", secret: "old-root-secret-" + crypto.randomUUID().slice(0, 8) };
  const appKey = { id: "PHOLDAPP000000000000", secret: "old-app-secret-" + crypto.randomUUID().slice(0, 8) };
  for (const [id, secret, name] of [[rootKey.id, rootKey.secret, "root"], [appKey.id, appKey.secret, "backups"]]) {
    old.run("INSERT INTO access_keys (access_key, secret_key, name, created_at) VALUES (?, ?, ?, ?)", [id!, secret!, name!, Date.now()]);
  }
  old.run("INSERT INTO buckets (name, created_at) VALUES ('old-bucket', ?)", [Date.now()]);
  old.close();
  chmodSync(db, 0o644);
  expect(databaseBytes(dataDir).includes(appKey.secret)).toBe(true);

  const env = { PHOTON_TOKEN: "upgrade-token" };
  await using gw = startPhoton(gatewayArgs(dataDir), { env });
  const endpoint = await gw.url("s3");
  const admin = await gw.url();
  await gw.waitForLog((l) => l.msg.startsWith("sealed the S3 secret keys") && l.keys === 2, "sealing log");
  const root = client(endpoint, rootKey.id, rootKey.secret);
  const app = client(endpoint, appKey.id, appKey.secret);
  expect(((await root.send(new ListBucketsCommand({}))).Buckets ?? []).map((b) => b.Name)).toEqual(["old-bucket"]);
  // The key made before scoping keeps full access: it creates buckets and writes where it likes.
  await app.send(new CreateBucketCommand({ Bucket: "new-bucket" }));
  await app.send(new PutObjectCommand({ Bucket: "old-bucket", Key: "k", Body: "written after the upgrade" }));
  expect(await (await root.send(new GetObjectCommand({ Bucket: "old-bucket", Key: "k" }))).Body!.transformToString()).toBe("written after the upgrade");
  const list = await runPhoton(["s3", "key", "list", "--server", admin, "--token", env.PHOTON_TOKEN]);
  expect(list.stdout).toMatch(new RegExp(`${appKey.id}\\s+backups\\s+legacy full access`));
  expect(list.stdout).toMatch(new RegExp(`${rootKey.id}\\s+root\\s+root \\(full access\\)`));
  expect(modeOf(db)).toBe(0o600);
  // Not even part of a secret is left in the space the plaintext rows held.
  const bytes = databaseBytes(dataDir);
  expect(bytes.includes("old-app-secret-")).toBe(false);
  expect(bytes.includes("old-root-secret-")).toBe(false);
  root.destroy();
  app.destroy();
  expect(await gw.stop()).toBe(0);

  // The sealed secrets open after a restart; without the secrets key file the gateway refuses to start.
  await using again = startPhoton(gatewayArgs(dataDir), { env });
  const s3 = client(await again.url("s3"), appKey.id, appKey.secret);
  expect(((await s3.send(new ListBucketsCommand({}))).Buckets ?? []).map((b) => b.Name)).toEqual(["new-bucket", "old-bucket"]);
  s3.destroy();
  expect(await again.stop()).toBe(0);
  rmSync(join(dataDir, "s3-secrets.key"));
  const refused = await runPhoton(gatewayArgs(dataDir), { env });
  expect(refused.code).not.toBe(0);
  expect(refused.stderr).toContain("s3-secrets.key is missing");
  expect(existsSync(join(dataDir, "s3-secrets.key"))).toBe(false);
});
