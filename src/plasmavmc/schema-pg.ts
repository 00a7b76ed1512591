import { integer, pgTable, text } from "drizzle-orm/pg-core";
import { bigNumber, jsonText, timestampMs } from "../db/pg-columns.ts";
import { vmStates } from "./schema.ts";

/** PlasmaVMC's tables for PostgreSQL: the same names and JS types as schema.ts, whose comments explain them. */

export const images = pgTable("images", {
  name: text("name").primaryKey(),
  id: text("id").notNull().unique(),
  format: text("format", { enum: ["raw", "qcow2"] }).notNull(),
  virtualSize: bigNumber("virtual_size").notNull(),
  artifactSize: bigNumber("artifact_size").notNull(),
  sha256: text("sha256").notNull(),
  bucket: text("bucket").notNull(),
  key: text("key").notNull(),
  source: text("source").notNull(),
  baseVolume: text("base_volume"),
  createdAt: timestampMs("created_at").notNull(),
});

export const managedVolumes = pgTable("managed_volumes", {
  name: text("name").primaryKey(),
  sizeBytes: bigNumber("size_bytes").notNull(),
  format: text("format", { enum: ["raw", "qcow2"] }).notNull(),
  image: text("image"),
  vm: text("vm"),
  node: text("node"),
  createdAt: timestampMs("created_at").notNull(),
});

export const vms = pgTable("vms", {
  name: text("name").primaryKey(),
  id: text("id").notNull().unique(),
  image: text("image").notNull(),
  cpus: integer("cpus").notNull(),
  memoryBytes: bigNumber("memory_bytes").notNull(),
  disks: jsonText("disks").$type<string[]>().notNull(),
  kernel: text("kernel"),
  initrd: text("initrd"),
  append: text("append"),
  network: text("network", { enum: ["none", "user"] }).notNull(),
  state: text("state", { enum: vmStates }).notNull(),
  node: text("node"),
  lastError: text("last_error"),
  createdAt: timestampMs("created_at").notNull(),
  startedAt: timestampMs("started_at"),
  attachMs: integer("attach_ms"),
});
