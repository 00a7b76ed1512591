import { integer, pgTable, text } from "drizzle-orm/pg-core";
import { bigNumber, jsonText, timestampMs } from "../db/pg-columns.ts";

/** The controller's tables for PostgreSQL: the same names and JS types as schema.ts, whose comments explain them. */
export const nodes = pgTable("nodes", {
  id: text("id").primaryKey(),
  name: text("name").notNull().unique(),
  advertise: text("advertise").notNull(),
  roles: jsonText("roles").$type<string[]>().notNull(),
  zone: text("zone"),
  cpus: integer("cpus").notNull(),
  memoryBytes: bigNumber("memory_bytes").notNull(),
  diskBytes: bigNumber("disk_bytes").notNull(),
  diskFreeBytes: bigNumber("disk_free_bytes").notNull(),
  agentVersion: text("agent_version").notNull(),
  state: text("state", { enum: ["up", "down"] }).notNull(),
  scheduling: text("scheduling", { enum: ["active", "drained"] }).notNull(),
  registeredAt: timestampMs("registered_at").notNull(),
  lastHeartbeatAt: timestampMs("last_heartbeat_at").notNull(),
});

export * from "../plasmavmc/schema-pg.ts";
export { leases } from "../db/pg-leases.ts";
