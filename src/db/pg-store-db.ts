import { SQL } from "bun";
import { sql } from "drizzle-orm";
import { drizzle } from "drizzle-orm/bun-sql";
import { redactUrl } from "./engine.ts";
import { applyPgMigrations } from "./pg-migrate.ts";
import type { Db, PreparableQuery, StoreDb, StoreSchemas } from "./store-db.ts";

/** What pg's select builder gives for `.prepare(name)`. */
interface PgPreparable<R> {
  prepare(name: string): { execute(params: Record<string, unknown>): Promise<R[]> };
}

/** Connections per process: requests wait for a free one rather than opening more. */
const POOL_SIZE = 16;

/**
 * A StoreDb over a PostgreSQL database shared by several processes: a
 * pool of connections (Bun's SQL client), the pg schema in place of the
 * SQLite one, the embedded pg migrations applied at open under an advisory
 * lock. Each commit is durable before it returns (PostgreSQL's default
 * synchronous_commit), as with SQLite's synchronous=FULL.
 */
export async function openPgStoreDb<S extends Record<string, unknown>>(url: string, schemas: StoreSchemas<S>): Promise<StoreDb<S>> {
  const client = new SQL(url, { max: POOL_SIZE });
  try {
    await applyPgMigrations(client, schemas.pgMigrations);
  } catch (err) {
    await client.close();
    throw new Error(`PostgreSQL metadata at ${redactUrl(url)}: ${(err as Error).message}`, { cause: err });
  }
  const pg = drizzle({ client, schema: schemas.pgSchema });
  // The store code's builder calls are the same for both dialects (store-db.ts): one cast, here.
  const db = pg as unknown as Db<S>;
  return {
    engine: "postgres",
    db,
    tables: schemas.pgSchema as S,
    transaction: <T>(fn: (tx: Db<S>) => Promise<T>, locks: readonly string[] = []) =>
      pg.transaction(async (tx) => {
        for (const name of [...new Set(locks)].sort()) await tx.execute(sql`SELECT pg_advisory_xact_lock(hashtextextended(${name}, 0))`);
        return fn(tx as unknown as Db<S>);
      }),
    write: (fn) => fn(db),
    lookup<R>(name: string, query: PreparableQuery<R>) {
      const prepared = (query as unknown as PgPreparable<R>).prepare(name);
      return async (params: Record<string, unknown>) => (await prepared.execute(params))[0];
    },
    // Taken when free or expired, renewed by its holder; the database's clock decides (pg-leases.ts).
    async holdLease(name, holder, ttlMs) {
      const rows: unknown[] = await client`
        INSERT INTO leases (name, holder, expires_at) VALUES (${name}, ${holder}, now() + ${ttlMs}::float8 * interval '1 millisecond')
        ON CONFLICT (name) DO UPDATE SET holder = EXCLUDED.holder, expires_at = EXCLUDED.expires_at
        WHERE leases.holder = EXCLUDED.holder OR leases.expires_at < now()
        RETURNING holder`;
      return rows.length > 0;
    },
    scrubbing: (fn) => fn(),
    freeing: (fn) => fn(),
    reserveInPlace: () => true,
    close: () => client.close(),
  };
}
