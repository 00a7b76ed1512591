import { join } from "node:path";
import { and, asc, count, eq, gt, sql, sum } from "drizzle-orm";
import { openMetadataDb, type MetadataDb } from "../db/open.ts";
import type { Logger } from "../util/log.ts";
import { SecretBox } from "../util/secret-box.ts";
import { newOwnerId } from "./chunks/chunk-ids.ts";
import type { RepairQueue, RepairReason } from "./chunks/repair-queue.ts";
import { KeyStore } from "./key-store.ts";
import { lightningstorMigrations } from "./migrations/index.ts";
import * as schema from "./schema.ts";
import type { ObjectRow, PartRow, UploadRow } from "./schema.ts";

/** The file in the data dir holding the key that seals S3 secrets in the database (mode 0600). */
export const secretsKeyFile = "s3-secrets.key";

/** A bucket with its contents counted, for the admin API. */
export interface BucketSummary {
  name: string;
  createdAt: Date;
  publicRead: boolean;
  objects: number;
  bytes: number;
}

/** Buckets, objects and access keys of one s3-gateway, in SQLite (each change one transaction). */
export class S3Metadata {
  private readonly meta: MetadataDb<typeof schema>;
  /** Access keys and their rights; secrets sealed under `<dataDir>/s3-secrets.key`. */
  readonly keys: KeyStore;
  /** The lookups every request makes, prepared once. */
  private readonly lookups;

  constructor(dataDir: string, log?: Logger) {
    this.meta = openMetadataDb(join(dataDir, "s3-gateway.db"), schema, lightningstorMigrations);
    const { accessKeys, buckets, objects } = schema;
    // A new key file only while no secret is sealed yet: a lost one must not be silently replaced.
    const anySealed = this.db.select({ n: count() }).from(accessKeys).where(eq(accessKeys.secretSealed, true)).get()?.n ?? 0;
    this.keys = new KeyStore(this.db, SecretBox.fromFile(join(dataDir, secretsKeyFile), anySealed === 0));
    this.sealPlaintextSecrets(log);
    const [key, bucket] = [sql.placeholder("key"), sql.placeholder("bucket")];
    this.lookups = {
      bucket: this.db.select({ name: buckets.name }).from(buckets).where(eq(buckets.name, bucket)).prepare(),
      object: this.db.select().from(objects).where(and(eq(objects.bucket, bucket), eq(objects.key, key))).prepare(),
    };
  }

  private get db() {
    return this.meta.db;
  }

  /**
   * Seals secrets an earlier version stored in plaintext. secure_delete makes
   * SQLite zero the space the plaintext leaves, and the checkpoint empties the
   * WAL, so no copy of the old bytes is left in either file.
   */
  private sealPlaintextSecrets(log: Logger | undefined): void {
    const { sqlite } = this.meta;
    sqlite.run("PRAGMA secure_delete = ON");
    try {
      const { sealed } = this.keys.sealStored();
      if (sealed === 0) return;
      sqlite.run("PRAGMA wal_checkpoint(TRUNCATE)");
      log?.info("sealed the S3 secret keys an earlier version stored in plaintext", { keys: sealed });
    } finally {
      sqlite.run("PRAGMA secure_delete = OFF");
    }
  }

  // buckets

  listBuckets() {
    return this.db.select().from(schema.buckets).orderBy(asc(schema.buckets.name)).all();
  }

  /** Every bucket (or the one named) with its object count and bytes. */
  bucketSummaries(name?: string): BucketSummary[] {
    const { buckets, objects } = schema;
    return this.db
      .select({ name: buckets.name, createdAt: buckets.createdAt, publicRead: buckets.publicRead, objects: count(objects.key), bytes: sum(objects.size).mapWith(Number) })
      .from(buckets)
      .leftJoin(objects, eq(objects.bucket, buckets.name))
      .where(name === undefined ? undefined : eq(buckets.name, name))
      .groupBy(buckets.name)
      .orderBy(asc(buckets.name))
      .all()
      .map((b) => ({ ...b, bytes: b.bytes ?? 0 }));
  }

  /** Lets anonymous requests read a bucket, or stops it; false when there is no such bucket. */
  setPublic(name: string, publicRead: boolean): boolean {
    return this.db.update(schema.buckets).set({ publicRead }).where(eq(schema.buckets.name, name)).returning().all().length > 0;
  }

  bucketExists(name: string): boolean {
    return this.lookups.bucket.get({ bucket: name }) !== undefined;
  }

  /** False when the bucket already existed. A new bucket's `owner` gets every right on it, in the same transaction. */
  createBucket(name: string, owner?: string): boolean {
    return this.db.transaction((tx) => {
      if (tx.insert(schema.buckets).values({ name, createdAt: new Date() }).onConflictDoNothing().returning().all().length === 0) return false;
      if (owner !== undefined) tx.insert(schema.bucketGrants).values({ bucket: name, accessKey: owner, read: true, write: true, owner: true }).run();
      return true;
    });
  }

  /** "missing", "not-empty" or "deleted". Commits on a full disk (db/disk-reserve.ts). */
  deleteBucket(name: string): "missing" | "not-empty" | "deleted" {
    return this.freeing((tx) => {
      if (!tx.select().from(schema.buckets).where(eq(schema.buckets.name, name)).get()) return "missing";
      if (tx.select({ key: schema.objects.key }).from(schema.objects).where(eq(schema.objects.bucket, name)).limit(1).get()) return "not-empty";
      tx.delete(schema.buckets).where(eq(schema.buckets.name, name)).run();
      return "deleted";
    });
  }

  // objects

  getObject(bucket: string, key: string): ObjectRow | undefined {
    return this.lookups.object.get({ bucket, key });
  }

  /**
   * Makes an object visible atomically; returns the chunks of the version it
   * replaced. `check` sees the current version in the same transaction and
   * may throw to leave it in place (conditional writes).
   */
  putObject(row: ObjectRow, check?: (current: ObjectRow | undefined) => void): { id: string; size: number }[] {
    return this.db.transaction((tx) => {
      const old = tx.select().from(schema.objects).where(and(eq(schema.objects.bucket, row.bucket), eq(schema.objects.key, row.key))).get();
      check?.(old);
      tx.insert(schema.objects).values(row).onConflictDoUpdate({ target: [schema.objects.bucket, schema.objects.key], set: row }).run();
      return old?.chunks ?? [];
    });
  }

  /** Removes an object; returns its chunks (empty when there was none). Commits on a full disk. */
  deleteObject(bucket: string, key: string): { id: string; size: number }[] {
    const removed = this.freeing((tx) => tx.delete(schema.objects).where(and(eq(schema.objects.bucket, bucket), eq(schema.objects.key, key))).returning().get());
    return removed?.chunks ?? [];
  }

  /**
   * A transaction that frees space: when the disk is too full for it to
   * commit, the space held back beside the database is given up for it.
   */
  private freeing<T>(fn: (tx: Parameters<Parameters<typeof this.db.transaction>[0]>[0]) => T): T {
    return this.meta.reserve.freeing(() => this.db.transaction(fn));
  }

  /** Whether the space held back for deletes is in place (put back now if there is room): writes wait for it. */
  reserveInPlace(): boolean {
    return this.meta.reserve.ensure();
  }

  /** Objects in key order after `after`, starting with `prefix` (case-sensitive, literal), at most `limit`. */
  listObjects(bucket: string, prefix: string, after: string, limit: number): ObjectRow[] {
    const conditions = [eq(schema.objects.bucket, bucket), gt(schema.objects.key, after)];
    if (prefix !== "") conditions.push(sql`instr(${schema.objects.key}, ${prefix}) = 1`);
    return this.db.select().from(schema.objects).where(and(...conditions)).orderBy(asc(schema.objects.key)).limit(limit).all();
  }

  // multipart uploads

  createUpload(row: UploadRow): void {
    this.db.insert(schema.uploads).values(row).run();
  }

  getUpload(bucket: string, key: string, id: string): UploadRow | undefined {
    return this.db
      .select()
      .from(schema.uploads)
      .where(and(eq(schema.uploads.id, id), eq(schema.uploads.bucket, bucket), eq(schema.uploads.key, key)))
      .get();
  }

  /** Uploads of a bucket in key order, then by start time. */
  listUploads(bucket: string, prefix: string): UploadRow[] {
    const conditions = [eq(schema.uploads.bucket, bucket)];
    if (prefix !== "") conditions.push(sql`instr(${schema.uploads.key}, ${prefix}) = 1`);
    return this.db.select().from(schema.uploads).where(and(...conditions)).orderBy(asc(schema.uploads.key), asc(schema.uploads.createdAt)).all();
  }

  /**
   * Records a part (the last to finish of two uploads of one number is the
   * part); returns the chunks of the part it replaced, or undefined when the
   * upload was completed or aborted meanwhile (nothing is recorded).
   */
  putPart(row: PartRow): { id: string; size: number }[] | undefined {
    return this.db.transaction((tx) => {
      if (!tx.select({ id: schema.uploads.id }).from(schema.uploads).where(eq(schema.uploads.id, row.uploadId)).get()) return undefined;
      const old = tx
        .select()
        .from(schema.parts)
        .where(and(eq(schema.parts.uploadId, row.uploadId), eq(schema.parts.partNumber, row.partNumber)))
        .get();
      tx.insert(schema.parts).values(row).onConflictDoUpdate({ target: [schema.parts.uploadId, schema.parts.partNumber], set: row }).run();
      return old?.chunks ?? [];
    });
  }

  listParts(uploadId: string): PartRow[] {
    return this.db.select().from(schema.parts).where(eq(schema.parts.uploadId, uploadId)).orderBy(asc(schema.parts.partNumber)).all();
  }

  /** Removes an upload and its parts; returns every part (their chunks are the caller's to delete). Commits on a full disk. */
  deleteUpload(uploadId: string): PartRow[] {
    return this.freeing((tx) => {
      const removed = tx.delete(schema.parts).where(eq(schema.parts.uploadId, uploadId)).returning().all();
      tx.delete(schema.uploads).where(eq(schema.uploads.id, uploadId)).run();
      return removed;
    });
  }

  /**
   * Completes an upload atomically: the object appears and the upload and
   * its parts disappear in one transaction. Returns the replaced object's
   * chunks, or undefined when the upload is gone (a concurrent Complete or
   * Abort came first; nothing is changed). `check` is as for putObject.
   */
  completeUpload(uploadId: string, row: ObjectRow, check?: (current: ObjectRow | undefined) => void): { id: string; size: number }[] | undefined {
    return this.db.transaction((tx) => {
      if (!tx.select({ id: schema.uploads.id }).from(schema.uploads).where(eq(schema.uploads.id, uploadId)).get()) return undefined;
      const old = tx.select().from(schema.objects).where(and(eq(schema.objects.bucket, row.bucket), eq(schema.objects.key, row.key))).get();
      check?.(old);
      tx.insert(schema.objects).values(row).onConflictDoUpdate({ target: [schema.objects.bucket, schema.objects.key], set: row }).run();
      tx.delete(schema.parts).where(eq(schema.parts.uploadId, uploadId)).run();
      tx.delete(schema.uploads).where(eq(schema.uploads.id, uploadId)).run();
      return old?.chunks ?? [];
    });
  }

  /** Every chunk id any object or part refers to. */
  referencedChunks(): Set<string> {
    const ids = new Set<string>();
    for (const row of this.db.select({ chunks: schema.objects.chunks }).from(schema.objects).all()) for (const c of row.chunks) ids.add(c.id);
    for (const row of this.db.select({ chunks: schema.parts.chunks }).from(schema.parts).all()) for (const c of row.chunks) ids.add(c.id);
    return ids;
  }

  /**
   * This gateway's id, made at its first start and kept: the owner its chunk
   * ids carry (chunks/chunk-ids.ts). A gateway upgraded from before ids had
   * owners gets one too; its older chunks name none and are never collected.
   */
  gatewayId(): string {
    const { settings } = schema;
    return this.db.transaction((tx) => {
      const row = tx.select({ value: settings.value }).from(settings).where(eq(settings.name, "gateway_id")).get();
      if (row) return row.value;
      const id = newOwnerId();
      tx.insert(settings).values({ name: "gateway_id", value: id }).run();
      return id;
    });
  }

  /**
   * The durable repair queue (a RepairQueue over the `repair_queue` table):
   * each change is its own transaction; the ids are mirrored in memory, so
   * asking about a chunk that is not queued (every delete does) costs no query.
   */
  repairQueue(): RepairQueue {
    const { db } = this;
    const { repairQueue: table } = schema;
    const queued = new Set(db.select({ id: table.chunkId }).from(table).orderBy(asc(table.queuedAt)).all().map((r) => r.id));
    return {
      add(id: string, reason: RepairReason) {
        if (queued.has(id)) return;
        db.insert(table).values({ chunkId: id, reason, queuedAt: new Date() }).onConflictDoNothing().run();
        queued.add(id);
      },
      remove(id: string) {
        if (!queued.delete(id)) return;
        db.delete(table).where(eq(table.chunkId, id)).run();
      },
      has: (id: string) => queued.has(id),
      ids: () => [...queued],
      get size() {
        return queued.size;
      },
    };
  }

  close(): void {
    this.meta.close();
  }
}
