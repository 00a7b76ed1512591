import { join } from "node:path";
import { and, asc, eq, gt, sql } from "drizzle-orm";
import { openMetadataDb, type MetadataDb } from "../db/open.ts";
import { lightningstorMigrations } from "./migrations/index.ts";
import * as schema from "./schema.ts";
import type { ObjectRow } from "./schema.ts";

/** Buckets, objects and access keys of one s3-gateway, in SQLite (each change one transaction). */
export class S3Metadata {
  private readonly meta: MetadataDb<typeof schema>;

  constructor(dataDir: string) {
    this.meta = openMetadataDb(join(dataDir, "s3-gateway.db"), schema, lightningstorMigrations);
  }

  private get db() {
    return this.meta.db;
  }

  // keys

  secretFor(accessKey: string): string | undefined {
    return this.db.select().from(schema.accessKeys).where(eq(schema.accessKeys.accessKey, accessKey)).get()?.secretKey;
  }

  listKeys() {
    return this.db.select().from(schema.accessKeys).orderBy(asc(schema.accessKeys.createdAt)).all();
  }

  addKey(accessKey: string, secretKey: string, name: string) {
    return this.db.insert(schema.accessKeys).values({ accessKey, secretKey, name, createdAt: new Date() }).onConflictDoNothing().returning().get();
  }

  deleteKey(accessKey: string): boolean {
    return this.db.delete(schema.accessKeys).where(eq(schema.accessKeys.accessKey, accessKey)).returning().all().length > 0;
  }

  // buckets

  listBuckets() {
    return this.db.select().from(schema.buckets).orderBy(asc(schema.buckets.name)).all();
  }

  bucketExists(name: string): boolean {
    return this.db.select().from(schema.buckets).where(eq(schema.buckets.name, name)).get() !== undefined;
  }

  /** False when the bucket already existed. */
  createBucket(name: string): boolean {
    return this.db.insert(schema.buckets).values({ name, createdAt: new Date() }).onConflictDoNothing().returning().all().length > 0;
  }

  /** "missing", "not-empty" or "deleted". */
  deleteBucket(name: string): "missing" | "not-empty" | "deleted" {
    return this.db.transaction((tx) => {
      if (!tx.select().from(schema.buckets).where(eq(schema.buckets.name, name)).get()) return "missing";
      if (tx.select({ key: schema.objects.key }).from(schema.objects).where(eq(schema.objects.bucket, name)).limit(1).get()) return "not-empty";
      tx.delete(schema.buckets).where(eq(schema.buckets.name, name)).run();
      return "deleted";
    });
  }

  // objects

  getObject(bucket: string, key: string): ObjectRow | undefined {
    return this.db.select().from(schema.objects).where(and(eq(schema.objects.bucket, bucket), eq(schema.objects.key, key))).get();
  }

  /** Makes an object visible atomically; returns the chunks of the version it replaced. */
  putObject(row: ObjectRow): { id: string; size: number }[] {
    return this.db.transaction((tx) => {
      const old = tx.select().from(schema.objects).where(and(eq(schema.objects.bucket, row.bucket), eq(schema.objects.key, row.key))).get();
      tx.insert(schema.objects).values(row).onConflictDoUpdate({ target: [schema.objects.bucket, schema.objects.key], set: row }).run();
      return old?.chunks ?? [];
    });
  }

  /** Removes an object; returns its chunks (empty when there was none). */
  deleteObject(bucket: string, key: string): { id: string; size: number }[] {
    const removed = this.db.delete(schema.objects).where(and(eq(schema.objects.bucket, bucket), eq(schema.objects.key, key))).returning().get();
    return removed?.chunks ?? [];
  }

  /** Objects in key order after `after`, starting with `prefix` (case-sensitive, literal), at most `limit`. */
  listObjects(bucket: string, prefix: string, after: string, limit: number): ObjectRow[] {
    const conditions = [eq(schema.objects.bucket, bucket), gt(schema.objects.key, after)];
    if (prefix !== "") conditions.push(sql`instr(${schema.objects.key}, ${prefix}) = 1`);
    return this.db.select().from(schema.objects).where(and(...conditions)).orderBy(asc(schema.objects.key)).limit(limit).all();
  }

  close(): void {
    this.meta.close();
  }
}
