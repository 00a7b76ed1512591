import { sql, type SQL } from "drizzle-orm";
import type { SQLiteColumn } from "drizzle-orm/sqlite-core";

/**
 * SQL fragments written once for both dialects. Each is valid SQLite and
 * PostgreSQL as it stands; an explicit CAST gives PostgreSQL the parameter's type.
 */

/** The column's text starts with `prefix`, literally (no LIKE wildcards, case-sensitive). */
export function startsWith(column: SQLiteColumn, prefix: string): SQL {
  return sql`substr(${column}, 1, length(CAST(${prefix} AS TEXT))) = CAST(${prefix} AS TEXT)`;
}
