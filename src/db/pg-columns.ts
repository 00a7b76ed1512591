import { bigint, customType, json, timestamp } from "drizzle-orm/pg-core";

/**
 * The PostgreSQL column types the pg schema files share, chosen so a row
 * reads back as the same JS value as from the SQLite schema: Date for
 * timestamps, number for sizes, parsed JSON.
 */

/**
 * Text compared and ordered byte by byte (`COLLATE "C"`), as SQLite does:
 * S3 lists keys in UTF-8 binary order, whatever the database's locale.
 */
export const binaryText = customType<{ data: string; driverData: string }>({
  dataType: () => 'text COLLATE "C"',
});

/** A millisecond timestamp read back as a Date (SQLite: `integer` in `timestamp_ms` mode). */
export const timestampMs = (name: string) => timestamp(name, { mode: "date", precision: 3, withTimezone: true });

/** A byte count or other integer that may pass 2^31 (SQLite's integer is 64-bit). */
export const bigNumber = (name: string) => bigint(name, { mode: "number" });

/** JSON kept as written (`json`, not `jsonb`, so header order survives). */
export const jsonText = json;
