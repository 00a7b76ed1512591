import { integer, sqliteTable, text } from "drizzle-orm/sqlite-core";

/** Images: artifacts in a LightningStor bucket, and the raw base built from one on first use. */
export const images = sqliteTable("images", {
  name: text("name").primaryKey(),
  id: text("id").notNull().unique(),
  format: text("format", { enum: ["raw", "qcow2"] }).notNull(),
  virtualSize: integer("virtual_size").notNull(),
  artifactSize: integer("artifact_size").notNull(),
  sha256: text("sha256").notNull(),
  bucket: text("bucket").notNull(),
  key: text("key").notNull(),
  /** Where the artifact came from (a file name, URL or s3:// URI), for the operator. */
  source: text("source").notNull(),
  /** The raw base in the central CoronaFS store, once built (`base-<digest>`). */
  baseVolume: text("base_volume"),
  createdAt: integer("created_at", { mode: "timestamp_ms" }).notNull(),
});

/** Volumes the controller manages in the central CoronaFS store, and where their current data is. */
export const managedVolumes = sqliteTable("managed_volumes", {
  name: text("name").primaryKey(),
  sizeBytes: integer("size_bytes").notNull(),
  format: text("format", { enum: ["raw", "qcow2"] }).notNull(),
  /** The image it was cloned from (a qcow2 overlay on the image's base). */
  image: text("image"),
  /** The VM it is attached to: one writer at a time. */
  vm: text("vm"),
  /** The node holding its current data while its VM runs; null when the central store has it. */
  node: text("node"),
  createdAt: integer("created_at", { mode: "timestamp_ms" }).notNull(),
});

/** The states a VM moves through: `shutoff` is a guest that powered itself off, its disks still on the node. */
export const vmStates = ["stopped", "starting", "running", "stopping", "shutoff", "crashed", "error"] as const;
export type VmState = (typeof vmStates)[number];

/** VMs: what was asked for, where they run and how they are doing. */
export const vms = sqliteTable("vms", {
  name: text("name").primaryKey(),
  id: text("id").notNull().unique(),
  image: text("image").notNull(),
  cpus: integer("cpus").notNull(),
  memoryBytes: integer("memory_bytes").notNull(),
  /** Volume names, boot disk first. */
  disks: text("disks", { mode: "json" }).$type<string[]>().notNull(),
  kernel: text("kernel"),
  initrd: text("initrd"),
  append: text("append"),
  network: text("network", { enum: ["none", "user"] }).notNull(),
  state: text("state", { enum: vmStates }).notNull(),
  /** The node holding it: where it runs, or where a shut-off or crashed VM left its disks; null once stopped. */
  node: text("node"),
  lastError: text("last_error"),
  createdAt: integer("created_at", { mode: "timestamp_ms" }).notNull(),
  startedAt: integer("started_at", { mode: "timestamp_ms" }),
  /** StartVm → QEMU showed every disk attached (QMP query-block), in ms. */
  attachMs: integer("attach_ms"),
});

export type ImageRow = typeof images.$inferSelect;
export type ManagedVolumeRow = typeof managedVolumes.$inferSelect;
export type VmRow = typeof vms.$inferSelect;
