import { boolean, integer, pgTable, primaryKey, text } from "drizzle-orm/pg-core";
import { bigNumber, binaryText, jsonText, timestampMs } from "../db/pg-columns.ts";

/**
 * The LightningStor schema for PostgreSQL (`--metadata postgres://…`): the
 * same tables, columns and JS names as schema.ts, whose comments explain them.
 * Store code is written against schema.ts; these tables take its place at run time.
 */

export const accessKeys = pgTable("access_keys", {
  accessKey: text("access_key").primaryKey(),
  secretKey: text("secret_key").notNull(),
  secretSealed: boolean("secret_sealed").notNull().default(false),
  name: text("name").notNull(),
  createdAt: timestampMs("created_at").notNull(),
  access: text("access", { enum: ["root", "legacy", "scoped"] }).notNull().default("legacy"),
  createBucket: boolean("create_bucket").notNull().default(false),
});

export const buckets = pgTable("buckets", {
  name: binaryText("name").primaryKey(),
  createdAt: timestampMs("created_at").notNull(),
  publicRead: boolean("public_read").notNull().default(false),
});

export const bucketGrants = pgTable(
  "bucket_grants",
  {
    bucket: binaryText("bucket")
      .notNull()
      .references(() => buckets.name, { onDelete: "cascade" }),
    accessKey: text("access_key")
      .notNull()
      .references(() => accessKeys.accessKey, { onDelete: "cascade" }),
    read: boolean("read").notNull(),
    write: boolean("write").notNull(),
    owner: boolean("owner").notNull(),
  },
  (t) => [primaryKey({ columns: [t.bucket, t.accessKey] })],
);

export const objects = pgTable(
  "objects",
  {
    bucket: binaryText("bucket").notNull().references(() => buckets.name),
    key: binaryText("key").notNull(),
    size: bigNumber("size").notNull(),
    etag: text("etag").notNull(),
    chunks: jsonText("chunks").$type<{ id: string; size: number }[]>().notNull(),
    headers: jsonText("headers").$type<Record<string, string>>().notNull(),
    checksums: jsonText("checksums").$type<Record<string, string>>().notNull(),
    lastModified: timestampMs("last_modified").notNull(),
    uploadId: text("upload_id"),
    partSizes: jsonText("part_sizes").$type<number[]>(),
  },
  (t) => [primaryKey({ columns: [t.bucket, t.key] })],
);

export const uploads = pgTable("uploads", {
  id: text("id").primaryKey(),
  bucket: binaryText("bucket").notNull().references(() => buckets.name),
  key: binaryText("key").notNull(),
  headers: jsonText("headers").$type<Record<string, string>>().notNull(),
  createdAt: timestampMs("created_at").notNull(),
});

export const parts = pgTable(
  "parts",
  {
    uploadId: text("upload_id").notNull().references(() => uploads.id),
    partNumber: integer("part_number").notNull(),
    size: bigNumber("size").notNull(),
    etag: text("etag").notNull(),
    chunks: jsonText("chunks").$type<{ id: string; size: number }[]>().notNull(),
    checksums: jsonText("checksums").$type<Record<string, string>>().notNull().default({}),
    lastModified: timestampMs("last_modified").notNull(),
  },
  (t) => [primaryKey({ columns: [t.uploadId, t.partNumber] })],
);

export const repairQueue = pgTable("repair_queue", {
  chunkId: text("chunk_id").primaryKey(),
  reason: text("reason").notNull(),
  queuedAt: timestampMs("queued_at").notNull(),
});

export const settings = pgTable("settings", {
  name: text("name").primaryKey(),
  value: text("value").notNull(),
});

export { leases } from "../db/pg-leases.ts";
