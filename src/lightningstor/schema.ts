import { integer, primaryKey, sqliteTable, text } from "drizzle-orm/sqlite-core";

/** S3 access keys (SigV4 credentials). */
export const accessKeys = sqliteTable("access_keys", {
  accessKey: text("access_key").primaryKey(),
  /**
   * The secret, sealed with AES-256-GCM under the data dir's secrets key
   * (secret-box.ts) when `secretSealed`; rows written before sealing existed
   * are sealed at the next start. SigV4 needs the secret itself, so it cannot be hashed.
   */
  secretKey: text("secret_key").notNull(),
  secretSealed: integer("secret_sealed", { mode: "boolean" }).notNull().default(false),
  name: text("name").notNull(),
  createdAt: integer("created_at", { mode: "timestamp_ms" }).notNull(),
  /**
   * root: everything; scoped: what its bucket grants say; legacy: a key made
   * before keys were scoped, which keeps full access so an upgrade breaks no one.
   */
  access: text("access", { enum: ["root", "legacy", "scoped"] }).notNull().default("legacy"),
  /** A scoped key may create buckets (it then owns them). */
  createBucket: integer("create_bucket", { mode: "boolean" }).notNull().default(false),
});

export type KeyRow = typeof accessKeys.$inferSelect;

export const buckets = sqliteTable("buckets", {
  name: text("name").primaryKey(),
  createdAt: integer("created_at", { mode: "timestamp_ms" }).notNull(),
  /** Anonymous requests may read (set only by the operator: `photon s3 bucket public`). */
  publicRead: integer("public_read", { mode: "boolean" }).notNull().default(false),
});

/** What a scoped key may do on a bucket (Garage's `bucket allow --read --write --owner`). */
export const bucketGrants = sqliteTable(
  "bucket_grants",
  {
    bucket: text("bucket")
      .notNull()
      .references(() => buckets.name, { onDelete: "cascade" }),
    accessKey: text("access_key")
      .notNull()
      .references(() => accessKeys.accessKey, { onDelete: "cascade" }),
    read: integer("read", { mode: "boolean" }).notNull(),
    write: integer("write", { mode: "boolean" }).notNull(),
    owner: integer("owner", { mode: "boolean" }).notNull(),
  },
  (t) => [primaryKey({ columns: [t.bucket, t.accessKey] })],
);

export type GrantRow = typeof bucketGrants.$inferSelect;

/** The current version of each object; its data is a list of chunks in the chunk store. */
export const objects = sqliteTable(
  "objects",
  {
    bucket: text("bucket").notNull().references(() => buckets.name),
    /** Keys are opaque bytes: stored as given, never used as a path. */
    key: text("key").notNull(),
    size: integer("size").notNull(),
    etag: text("etag").notNull(),
    /** Chunk ids and sizes, in order. */
    chunks: text("chunks", { mode: "json" }).$type<{ id: string; size: number }[]>().notNull(),
    /** Content-Type and the other stored headers, and x-amz-meta-*. */
    headers: text("headers", { mode: "json" }).$type<Record<string, string>>().notNull(),
    /** Verified x-amz-checksum-* values, by algorithm. */
    checksums: text("checksums", { mode: "json" }).$type<Record<string, string>>().notNull(),
    lastModified: integer("last_modified", { mode: "timestamp_ms" }).notNull(),
    /** The multipart upload that made the object (a repeated Complete answers from it); null otherwise. */
    uploadId: text("upload_id"),
    /** A multipart object's part sizes, in order (GET ?partNumber=N); null for a single-part object. */
    partSizes: text("part_sizes", { mode: "json" }).$type<number[]>(),
  },
  (t) => [primaryKey({ columns: [t.bucket, t.key] })],
);

export type ObjectRow = typeof objects.$inferSelect;

/** Multipart uploads in progress. */
export const uploads = sqliteTable("uploads", {
  id: text("id").primaryKey(),
  bucket: text("bucket").notNull().references(() => buckets.name),
  key: text("key").notNull(),
  /** Headers and metadata given at CreateMultipartUpload, applied at completion. */
  headers: text("headers", { mode: "json" }).$type<Record<string, string>>().notNull(),
  createdAt: integer("created_at", { mode: "timestamp_ms" }).notNull(),
});

/** Uploaded parts; a re-uploaded part number replaces the earlier one. */
export const parts = sqliteTable(
  "parts",
  {
    uploadId: text("upload_id").notNull().references(() => uploads.id),
    partNumber: integer("part_number").notNull(),
    size: integer("size").notNull(),
    etag: text("etag").notNull(),
    chunks: text("chunks", { mode: "json" }).$type<{ id: string; size: number }[]>().notNull(),
    /** Verified x-amz-checksum-* values of the part, by algorithm (the object's composite checksum is made of them). */
    checksums: text("checksums", { mode: "json" }).$type<Record<string, string>>().notNull().default({}),
    lastModified: integer("last_modified", { mode: "timestamp_ms" }).notNull(),
  },
  (t) => [primaryKey({ columns: [t.uploadId, t.partNumber] })],
);

export type UploadRow = typeof uploads.$inferSelect;
export type PartRow = typeof parts.$inferSelect;

/**
 * Chunks known to lack some of their R copies on storage nodes (stored while a
 * node was down, found missing or damaged): upkeep completes them. Kept here,
 * not in memory, so a gateway restart forgets none.
 */
export const repairQueue = sqliteTable("repair_queue", {
  chunkId: text("chunk_id").primaryKey(),
  /** Why it was queued, for `/metrics` and the log: short, missing, damaged. */
  reason: text("reason").notNull(),
  queuedAt: integer("queued_at", { mode: "timestamp_ms" }).notNull(),
});

/**
 * This gateway's own settings, one row each. `gateway_id`: made at the first
 * start and kept, it names the chunks this gateway writes (chunks/chunk-ids.ts)
 * so that it collects only those when several gateways share storage nodes.
 */
export const settings = sqliteTable("settings", {
  name: text("name").primaryKey(),
  value: text("value").notNull(),
});
