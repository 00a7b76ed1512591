import { integer, sqliteTable, text } from "drizzle-orm/sqlite-core";

/** Worker nodes known to the controller. */
export const nodes = sqliteTable("nodes", {
  id: text("id").primaryKey(),
  name: text("name").notNull().unique(),
  /** Address other nodes use to reach this node's agent (host:port). */
  advertise: text("advertise").notNull(),
  roles: text("roles", { mode: "json" }).$type<string[]>().notNull(),
  /** Failure domain (rack, room, site) the agent was started with (`--zone`); LightningStor spreads a chunk's copies across zones. */
  zone: text("zone"),
  cpus: integer("cpus").notNull(),
  memoryBytes: integer("memory_bytes").notNull(),
  diskBytes: integer("disk_bytes").notNull(),
  diskFreeBytes: integer("disk_free_bytes").notNull(),
  agentVersion: text("agent_version").notNull(),
  /** Liveness from heartbeats: `up` or `down`. */
  state: text("state", { enum: ["up", "down"] }).notNull(),
  /** `drained` nodes take no new work. */
  scheduling: text("scheduling", { enum: ["active", "drained"] }).notNull(),
  registeredAt: integer("registered_at", { mode: "timestamp_ms" }).notNull(),
  lastHeartbeatAt: integer("last_heartbeat_at", { mode: "timestamp_ms" }).notNull(),
});

/** A node row as stored. */
export type NodeRow = typeof nodes.$inferSelect;
export * from "../plasmavmc/schema.ts";
