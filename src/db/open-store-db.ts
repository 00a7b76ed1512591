import type { MetadataEngine } from "./engine.ts";
import { openPgStoreDb } from "./pg-store-db.ts";
import { openSqliteStoreDb } from "./sqlite-store-db.ts";
import type { StoreDb, StoreSchemas } from "./store-db.ts";

/** Opens a mode's metadata on its engine: `sqlitePath` in the data dir, or the PostgreSQL URL. */
export async function openStoreDb<S extends Record<string, unknown>>(engine: MetadataEngine, sqlitePath: string, schemas: StoreSchemas<S>): Promise<StoreDb<S>> {
  return engine.kind === "postgres" ? openPgStoreDb(engine.url, schemas) : openSqliteStoreDb(sqlitePath, schemas);
}

/** Whether a failed change broke a foreign key (a row another transaction still refers to, or a parent gone). */
export function isForeignKeyViolation(err: unknown): boolean {
  for (let e: unknown = err; e instanceof Error; e = e.cause) {
    if ((e as { errno?: string; code?: string }).errno === "23503" || /FOREIGN KEY constraint failed|violates foreign key constraint/.test(e.message)) return true;
  }
  return false;
}
