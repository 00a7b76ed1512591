import { join } from "node:path";
import { and, asc, count, eq, gt, sql, sum } from "drizzle-orm";
import type { MetadataEngine } from "../db/engine.ts";
import { isForeignKeyViolation, openStoreDb } from "../db/open-store-db.ts";
import { startsWith } from "../db/sql.ts";
import type { Db, StoreDb, StoreSchemas } from "../db/store-db.ts";
import type { Logger } from "../util/log.ts";
import { SecretBox } from "../util/secret-box.ts";
import { newOwnerId } from "./chunks/chunk-ids.ts";
import type { RepairQueue, RepairReason } from "./chunks/repair-queue.ts";
import { KeyStore } from "./key-store.ts";
import { lightningstorMigrations } from "./migrations/index.ts";
import { lightningstorPgMigrations } from "./migrations-pg/index.ts";
import * as schema from "./schema.ts";
import * as pgSchema from "./schema-pg.ts";
import type { ObjectRow, PartRow, UploadRow } from "./schema.ts";

/** The gateway's SQLite metadata file in its data dir. */
export const s3MetadataFile = "s3-gateway.db";

/** The gateway's schema and migrations for each engine. */
export const lightningstorSchemas: StoreSchemas<typeof schema> = { schema, migrations: lightningstorMigrations, pgSchema, pgMigrations: lightningstorPgMigrations };

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

type Chunks = { id: string; size: number }[];

/** A repair queue whose table other gateways may add to: `refresh` reads their additions in. */
export interface SharedRepairQueue extends RepairQueue {
  refresh(): Promise<void>;
}

/**
 * Buckets, objects and access keys of an s3-gateway: in its SQLite file, or
 * in a PostgreSQL database that several gateways share (each change one
 * transaction; what must be decided alone across gateways holds a named lock).
 */
export class S3Metadata {
  /** The lookups every request makes, prepared once. */
  private readonly lookups;

  private constructor(
    private readonly store: StoreDb<typeof schema>,
    /** Access keys and their rights; secrets sealed under `<dataDir>/s3-secrets.key`. */
    readonly keys: KeyStore,
  ) {
    const { buckets, objects } = this.tables;
    const [key, bucket] = [sql.placeholder("key"), sql.placeholder("bucket")];
    this.lookups = {
      bucket: store.lookup("photon_bucket", this.db.select({ name: buckets.name }).from(buckets).where(eq(buckets.name, bucket))),
      object: store.lookup("photon_object", this.db.select().from(objects).where(and(eq(objects.bucket, bucket), eq(objects.key, key)))),
    };
  }

  /** Opens the gateway's metadata on its engine (SQLite in `dataDir` by default). */
  static async open(dataDir: string, engine: MetadataEngine = { kind: "sqlite" }, log?: Logger): Promise<S3Metadata> {
    const store = await openStoreDb(engine, join(dataDir, s3MetadataFile), lightningstorSchemas);
    const { accessKeys } = store.tables;
    // A new key file only while no secret is sealed yet: a lost one must not be silently replaced.
    const [sealedRows] = await store.db.select({ n: count() }).from(accessKeys).where(eq(accessKeys.secretSealed, true));
    const meta = new S3Metadata(store, new KeyStore(store, SecretBox.fromFile(join(dataDir, secretsKeyFile), (sealedRows?.n ?? 0) === 0)));
    await meta.sealPlaintextSecrets(log);
    return meta;
  }

  /** Takes or renews the lease on a duty shared by the gateways on this database (StoreDb.holdLease). */
  holdLease(name: string, holder: string, ttlMs: number): Promise<boolean> {
    return this.store.holdLease(name, holder, ttlMs);
  }

  private get db() {
    return this.store.db;
  }

  /** The tables of the store's engine (store-db.ts). */
  private get tables() {
    return this.store.tables;
  }

  /**
   * Seals secrets an earlier version stored in plaintext, leaving no copy of
   * the old bytes in the database files (StoreDb.scrubbing).
   */
  private async sealPlaintextSecrets(log: Logger | undefined): Promise<void> {
    const { sealed } = await this.store.scrubbing(() => this.keys.sealStored());
    if (sealed > 0) log?.info("sealed the S3 secret keys an earlier version stored in plaintext", { keys: sealed });
  }

  // buckets

  listBuckets() {
    return this.db.select().from(this.tables.buckets).orderBy(asc(this.tables.buckets.name));
  }

  /** Every bucket (or the one named) with its object count and bytes. */
  async bucketSummaries(name?: string): Promise<BucketSummary[]> {
    const { buckets, objects } = this.tables;
    const rows = await this.db
      .select({ name: buckets.name, createdAt: buckets.createdAt, publicRead: buckets.publicRead, objects: count(objects.key), bytes: sum(objects.size).mapWith(Number) })
      .from(buckets)
      .leftJoin(objects, eq(objects.bucket, buckets.name))
      .where(name === undefined ? undefined : eq(buckets.name, name))
      .groupBy(buckets.name)
      .orderBy(asc(buckets.name));
    return rows.map((b) => ({ ...b, bytes: b.bytes ?? 0 }));
  }

  /** Lets anonymous requests read a bucket, or stops it; false when there is no such bucket. */
  async setPublic(name: string, publicRead: boolean): Promise<boolean> {
    const changed = await this.store.write((db) => db.update(this.tables.buckets).set({ publicRead }).where(eq(this.tables.buckets.name, name)).returning());
    return changed.length > 0;
  }

  async bucketExists(name: string): Promise<boolean> {
    return (await this.lookups.bucket({ bucket: name })) !== undefined;
  }

  /** False when the bucket already existed. A new bucket's `owner` gets every right on it, in the same transaction. */
  createBucket(name: string, owner?: string): Promise<boolean> {
    return this.store.transaction(async (tx) => {
      if ((await tx.insert(this.tables.buckets).values({ name, createdAt: new Date() }).onConflictDoNothing().returning()).length === 0) return false;
      if (owner !== undefined) await tx.insert(this.tables.bucketGrants).values({ bucket: name, accessKey: owner, read: true, write: true, owner: true });
      return true;
    });
  }

  /**
   * "missing", "not-empty" or "deleted"; commits on a full disk (StoreDb.freeing).
   * An object another gateway commits into the bucket meanwhile makes the
   * delete break its foreign key: not-empty.
   */
  async deleteBucket(name: string): Promise<"missing" | "not-empty" | "deleted"> {
    try {
      return await this.freeing(async (tx) => {
        if ((await tx.select().from(this.tables.buckets).where(eq(this.tables.buckets.name, name))).length === 0) return "missing";
        if ((await tx.select({ key: this.tables.objects.key }).from(this.tables.objects).where(eq(this.tables.objects.bucket, name)).limit(1)).length > 0) return "not-empty";
        await tx.delete(this.tables.buckets).where(eq(this.tables.buckets.name, name));
        return "deleted";
      });
    } catch (err) {
      if (isForeignKeyViolation(err)) return "not-empty";
      throw err;
    }
  }

  // objects

  getObject(bucket: string, key: string): Promise<ObjectRow | undefined> {
    return this.lookups.object({ bucket, key });
  }

  /**
   * Makes an object visible atomically; returns the chunks of the version it
   * replaced. `check` sees the current version in the same transaction and
   * may throw to leave it in place (conditional writes): the object's lock
   * makes check-and-write one step across gateways.
   */
  putObject(row: ObjectRow, check?: (current: ObjectRow | undefined) => void): Promise<Chunks> {
    return this.store.transaction(async (tx) => {
      const [old] = await tx.select().from(this.tables.objects).where(and(eq(this.tables.objects.bucket, row.bucket), eq(this.tables.objects.key, row.key)));
      check?.(old);
      await tx.insert(this.tables.objects).values(row).onConflictDoUpdate({ target: [this.tables.objects.bucket, this.tables.objects.key], set: row });
      return old?.chunks ?? [];
    }, [objectLock(row.bucket, row.key)]);
  }

  /** Removes an object; returns its chunks (empty when there was none). Commits on a full disk. */
  async deleteObject(bucket: string, key: string): Promise<Chunks> {
    const [removed] = await this.store.freeing(() =>
      this.store.write((db) => db.delete(this.tables.objects).where(and(eq(this.tables.objects.bucket, bucket), eq(this.tables.objects.key, key))).returning()),
    );
    return removed?.chunks ?? [];
  }

  /** A transaction that frees space: it commits on a full disk (StoreDb.freeing). */
  private freeing<T>(fn: (tx: Db<typeof schema>) => Promise<T>, locks?: readonly string[]): Promise<T> {
    return this.store.freeing(() => this.store.transaction(fn, locks));
  }

  /** Whether the space held back for deletes is in place (put back now if there is room): writes wait for it. */
  reserveInPlace(): boolean {
    return this.store.reserveInPlace();
  }

  /** Objects in key order after `after`, starting with `prefix` (case-sensitive, literal), at most `limit`. */
  listObjects(bucket: string, prefix: string, after: string, limit: number): Promise<ObjectRow[]> {
    const conditions = [eq(this.tables.objects.bucket, bucket), gt(this.tables.objects.key, after)];
    if (prefix !== "") conditions.push(startsWith(this.tables.objects.key, prefix));
    return this.db.select().from(this.tables.objects).where(and(...conditions)).orderBy(asc(this.tables.objects.key)).limit(limit);
  }

  // multipart uploads

  async createUpload(row: UploadRow): Promise<void> {
    await this.store.write((db) => db.insert(this.tables.uploads).values(row));
  }

  async getUpload(bucket: string, key: string, id: string): Promise<UploadRow | undefined> {
    const [row] = await this.db
      .select()
      .from(this.tables.uploads)
      .where(and(eq(this.tables.uploads.id, id), eq(this.tables.uploads.bucket, bucket), eq(this.tables.uploads.key, key)));
    return row;
  }

  /** Uploads of a bucket in key order, then by start time. */
  listUploads(bucket: string, prefix: string): Promise<UploadRow[]> {
    const conditions = [eq(this.tables.uploads.bucket, bucket)];
    if (prefix !== "") conditions.push(startsWith(this.tables.uploads.key, prefix));
    return this.db.select().from(this.tables.uploads).where(and(...conditions)).orderBy(asc(this.tables.uploads.key), asc(this.tables.uploads.createdAt));
  }

  /**
   * Records a part (the last to finish of two uploads of one number is the
   * part); returns the chunks of the part it replaced, or undefined when the
   * upload was completed or aborted meanwhile (nothing is recorded).
   */
  putPart(row: PartRow): Promise<Chunks | undefined> {
    return this.store.transaction(async (tx) => {
      if ((await tx.select({ id: this.tables.uploads.id }).from(this.tables.uploads).where(eq(this.tables.uploads.id, row.uploadId))).length === 0) return undefined;
      const [old] = await tx
        .select()
        .from(this.tables.parts)
        .where(and(eq(this.tables.parts.uploadId, row.uploadId), eq(this.tables.parts.partNumber, row.partNumber)));
      await tx.insert(this.tables.parts).values(row).onConflictDoUpdate({ target: [this.tables.parts.uploadId, this.tables.parts.partNumber], set: row });
      return old?.chunks ?? [];
    }, [uploadLock(row.uploadId)]);
  }

  listParts(uploadId: string): Promise<PartRow[]> {
    return this.db.select().from(this.tables.parts).where(eq(this.tables.parts.uploadId, uploadId)).orderBy(asc(this.tables.parts.partNumber));
  }

  /** Removes an upload and its parts; returns every part (their chunks are the caller's to delete). Commits on a full disk. */
  deleteUpload(uploadId: string): Promise<PartRow[]> {
    return this.freeing(async (tx) => {
      const removed = await tx.delete(this.tables.parts).where(eq(this.tables.parts.uploadId, uploadId)).returning();
      await tx.delete(this.tables.uploads).where(eq(this.tables.uploads.id, uploadId));
      return removed;
    }, [uploadLock(uploadId)]);
  }

  /**
   * Completes an upload atomically: the object appears and the upload and
   * its parts disappear in one transaction. Returns the replaced object's
   * chunks, or undefined when the upload is gone (a concurrent Complete or
   * Abort came first; nothing is changed). `check` is as for putObject.
   */
  completeUpload(uploadId: string, row: ObjectRow, check?: (current: ObjectRow | undefined) => void): Promise<Chunks | undefined> {
    return this.store.transaction(async (tx) => {
      if ((await tx.select({ id: this.tables.uploads.id }).from(this.tables.uploads).where(eq(this.tables.uploads.id, uploadId))).length === 0) return undefined;
      const [old] = await tx.select().from(this.tables.objects).where(and(eq(this.tables.objects.bucket, row.bucket), eq(this.tables.objects.key, row.key)));
      check?.(old);
      await tx.insert(this.tables.objects).values(row).onConflictDoUpdate({ target: [this.tables.objects.bucket, this.tables.objects.key], set: row });
      await tx.delete(this.tables.parts).where(eq(this.tables.parts.uploadId, uploadId));
      await tx.delete(this.tables.uploads).where(eq(this.tables.uploads.id, uploadId));
      return old?.chunks ?? [];
    }, [uploadLock(uploadId), objectLock(row.bucket, row.key)]);
  }

  /** Every chunk id any object or part refers to (of every gateway sharing the database). */
  async referencedChunks(): Promise<Set<string>> {
    const ids = new Set<string>();
    for (const row of await this.db.select({ chunks: this.tables.objects.chunks }).from(this.tables.objects)) for (const c of row.chunks) ids.add(c.id);
    for (const row of await this.db.select({ chunks: this.tables.parts.chunks }).from(this.tables.parts)) for (const c of row.chunks) ids.add(c.id);
    return ids;
  }

  /**
   * This gateway's id, made at the first start and kept: the owner its chunk
   * ids carry (chunks/chunk-ids.ts). Gateways sharing a PostgreSQL database
   * are one namespace and share one id (the first to start makes it). A
   * gateway upgraded from before ids had owners gets one too; its older
   * chunks name none and are never collected.
   */
  gatewayId(): Promise<string> {
    const { settings } = this.tables;
    return this.store.transaction(async (tx) => {
      const [row] = await tx.select({ value: settings.value }).from(settings).where(eq(settings.name, "gateway_id"));
      if (row) return row.value;
      const id = newOwnerId();
      await tx.insert(settings).values({ name: "gateway_id", value: id });
      return id;
    }, ["setting:gateway_id"]);
  }

  /**
   * The durable repair queue (a RepairQueue over the `repair_queue` table),
   * loaded once: the ids are mirrored in memory, so asking about a chunk
   * that is not queued (every delete does) costs no query. Each change is
   * written in the background, in order; a failed write is logged. Gateways
   * sharing a database share the table: `refresh` takes in what the others queued.
   */
  async repairQueue(log: Logger): Promise<SharedRepairQueue> {
    const { store, db } = this;
    const { repairQueue: table } = this.tables;
    const stored = async () => (await db.select({ id: table.chunkId }).from(table).orderBy(asc(table.queuedAt))).map((r) => r.id);
    const queued = new Set(await stored());
    const persist = (what: string, id: string, change: Parameters<typeof store.write>[0]) =>
      void store.write(change).catch((err: unknown) => log.error(`could not ${what} the repair queue`, { chunk: id, err: String(err) }));
    return {
      add(id: string, reason: RepairReason) {
        if (queued.has(id)) return;
        queued.add(id);
        persist("add to", id, (db) => db.insert(table).values({ chunkId: id, reason, queuedAt: new Date() }).onConflictDoNothing());
      },
      remove(id: string) {
        if (!queued.delete(id)) return;
        persist("remove from", id, (db) => db.delete(table).where(eq(table.chunkId, id)));
      },
      async refresh() {
        for (const id of await stored()) queued.add(id);
      },
      has: (id: string) => queued.has(id),
      ids: () => [...queued],
      get size() {
        return queued.size;
      },
    };
  }

  close(): Promise<void> {
    return this.store.close();
  }
}

/** The lock that makes a check-and-write of one object atomic across gateways. */
function objectLock(bucket: string, key: string): string {
  return `object:${bucket}/${key}`;
}

/** The lock of one multipart upload: parts, completion and abort take turns. */
function uploadLock(uploadId: string): string {
  return `upload:${uploadId}`;
}
