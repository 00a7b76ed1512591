import type { SQL } from "bun";
import type { Migration } from "./migrate.ts";

/** The advisory lock key under which migrations run (any fixed 64-bit number; "photon" in ASCII). */
const MIGRATION_LOCK = 0x70686f746f6en;

/**
 * Applies the PostgreSQL migrations not yet recorded in `__photon_migrations`,
 * all in one transaction that first takes a transaction-scoped advisory
 * lock: processes starting together on one database wait for the first,
 * then find its migrations recorded and apply nothing (PostgreSQL DDL is
 * transactional, so a failed migration leaves no half-made schema).
 */
export async function applyPgMigrations(client: SQL, migrations: readonly Migration[]): Promise<string[]> {
  return client.begin(async (tx) => {
    await tx`SELECT pg_advisory_xact_lock(${MIGRATION_LOCK.toString()}::bigint)`;
    await tx`CREATE TABLE IF NOT EXISTS __photon_migrations (tag text PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())`;
    const rows: { tag: string }[] = await tx`SELECT tag FROM __photon_migrations`;
    const applied = new Set(rows.map((r) => r.tag));
    const done: string[] = [];
    for (const migration of migrations) {
      if (applied.has(migration.tag)) continue;
      for (const statement of migration.sql.split("--> statement-breakpoint")) {
        if (statement.trim() !== "") await tx.unsafe(statement);
      }
      await tx`INSERT INTO __photon_migrations (tag) VALUES (${migration.tag})`;
      done.push(migration.tag);
    }
    return done;
  });
}
