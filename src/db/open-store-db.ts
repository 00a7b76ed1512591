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

/**
 * Whether a failure means the metadata database is away (restarting,
 * unreachable, refusing connections) rather than that the request was
 * wrong: callers answer 503 and the client tries again. SQLSTATE classes 08
 * (connection exception) and 57P (operator intervention: shutdown, restart),
 * and the Bun SQL client's own connection errors.
 */
export function isMetadataUnavailable(err: unknown): boolean {
  for (let e: unknown = err; e instanceof Error; e = e.cause) {
    const { errno, code } = e as { errno?: unknown; code?: unknown };
    if (typeof errno === "string" && /^(08|57P)/.test(errno)) return true;
    if (typeof code === "string" && /^ERR_POSTGRES_(CONNECTION_|.*TIMEOUT)/.test(code)) return true;
  }
  return false;
}
