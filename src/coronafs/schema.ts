import { integer, sqliteTable, text } from "drizzle-orm/sqlite-core";

/** Volumes of one nbd-export; files are named by id, never by the user's name. */
export const volumes = sqliteTable("volumes", {
  name: text("name").primaryKey(),
  id: text("id").notNull().unique(),
  format: text("format", { enum: ["raw", "qcow2"] }).notNull(),
  sizeBytes: integer("size_bytes").notNull(),
  /** The volume this one is a qcow2 overlay of. */
  backing: text("backing"),
  /** File name inside `<data-dir>/volumes/`. */
  file: text("file").notNull(),
  readOnly: integer("read_only", { mode: "boolean" }).notNull().default(false),
  createdAt: integer("created_at", { mode: "timestamp_ms" }).notNull(),
});

/** A volume row as stored. */
export type VolumeRow = typeof volumes.$inferSelect;
