import { openMetadataDb } from "./open.ts";
import { Serial, type Db, type PreparableQuery, type StoreDb, type StoreSchemas } from "./store-db.ts";

/**
 * A StoreDb over the mode's SQLite file (openMetadataDb). bun:sqlite is
 * synchronous and has one connection, so a transaction whose callback
 * awaits holds `serial` from BEGIN IMMEDIATE to COMMIT: no other change can
 * slip into it and share its fate. Reads need no turn: on the one
 * connection they may see an open transaction's rows before its COMMIT, so
 * store transactions make their checks (which may throw) before their writes.
 */
export function openSqliteStoreDb<S extends Record<string, unknown>>(path: string, schemas: StoreSchemas<S>): StoreDb<S> {
  const meta = openMetadataDb(path, schemas.schema, schemas.migrations);
  const { db, sqlite } = meta;
  const serial = new Serial();
  return {
    engine: "sqlite",
    db,
    tables: schemas.schema,
    transaction: <T>(fn: (tx: Db<S>) => Promise<T>) =>
      serial.run(async () => {
        sqlite.run("BEGIN IMMEDIATE");
        try {
          const result = await fn(db);
          sqlite.run("COMMIT");
          return result;
        } catch (err) {
          // A COMMIT that failed (a full disk) may have rolled back already.
          if (sqlite.inTransaction) sqlite.run("ROLLBACK");
          throw err;
        }
      }),
    write: (fn) => serial.run(() => fn(db)),
    lookup<R>(_name: string, query: PreparableQuery<R>) {
      const prepared = query.prepare();
      return async (params: Record<string, unknown>) => prepared.get(params) as R | undefined;
    },
    holdLease: async () => true,
    // Not a turn of `serial`: `fn` makes its own transactions.
    async scrubbing(fn) {
      sqlite.run("PRAGMA secure_delete = ON");
      try {
        const result = await fn();
        sqlite.run("PRAGMA wal_checkpoint(TRUNCATE)");
        return result;
      } finally {
        sqlite.run("PRAGMA secure_delete = OFF");
      }
    },
    freeing: (fn) => meta.reserve.freeingAsync(fn),
    reserveInPlace: () => meta.reserve.ensure(),
    close: async () => meta.close(),
  };
}
