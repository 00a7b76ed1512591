import { pgTable, text } from "drizzle-orm/pg-core";
import { timestampMs } from "./pg-columns.ts";

/**
 * Duties that one process at a time performs among those sharing a
 * PostgreSQL database (StoreDb.holdLease): one row per duty, held by
 * `holder` until `expiresAt` and renewed by it before then. Every pg schema
 * exports it, so every mode's pg migrations create it.
 */
export const leases = pgTable("leases", {
  name: text("name").primaryKey(),
  holder: text("holder").notNull(),
  expiresAt: timestampMs("expires_at").notNull(),
});
