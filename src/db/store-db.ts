import type { BunSQLiteDatabase } from "drizzle-orm/bun-sqlite";
import type { Migration } from "./migrate.ts";

/**
 * A mode's metadata database, whichever the engine: the one thing store
 * code (metadata.ts, key-store.ts, node-store.ts, PlasmaVMC's services)
 * talks to, so there is one set of store functions for SQLite and PostgreSQL.
 *
 * Queries are built on `db`, typed by the mode's SQLite schema; with
 * PostgreSQL the same builder calls run on the pg schema (same table and
 * column names, same JS values). So that they do, store code:
 * - takes its tables from `tables`, never from an imported schema module;
 * - awaits its queries: never `.get()`, `.all()`, `.run()` or `.prepare()`,
 *   which only SQLite's builder has (first rows are `(await q.limit(1))[0]`);
 * - changes data only inside `write` or `transaction`;
 * - uses `lookup` for the hot, prepared reads.
 */
export interface StoreDb<S extends Record<string, unknown>> {
  readonly engine: "sqlite" | "postgres";
  readonly db: Db<S>;
  /**
   * The tables to build queries from: the SQLite schema, or the pg schema
   * standing in for it (a query built on one engine's tables cannot run on the other).
   */
  readonly tables: S;
  /**
   * Runs `fn` as one transaction. `locks` name what it must hold alone
   * across every process sharing the database (an object, an upload): with
   * PostgreSQL they are transaction-scoped advisory locks taken first, in
   * sorted order; SQLite's one writer at a time already gives that.
   */
  transaction<T>(fn: (tx: Db<S>) => Promise<T>, locks?: readonly string[]): Promise<T>;
  /** Runs a single-statement change (SQLite: never inside another's open transaction). */
  write<T>(fn: (db: Db<S>) => Promise<T>): Promise<T>;
  /** Prepares a read once; the returned function gives its first row for the placeholders' values. */
  lookup<R>(name: string, query: PreparableQuery<R>): (params: Record<string, unknown>) => Promise<R | undefined>;
  /**
   * Takes or renews the lease on duty `name` for `holder` until `ttlMs` from
   * now; false while another holder's lease runs. With SQLite the one process
   * on the file always holds it.
   */
  holdLease(name: string, holder: string, ttlMs: number): Promise<boolean>;
  /**
   * Runs `fn` so that the bytes it overwrites or deletes leave no copy in the
   * database files (SQLite: secure_delete, then a WAL checkpoint).
   */
  scrubbing<T>(fn: () => Promise<T>): Promise<T>;
  /**
   * Runs `fn`, a change that frees space (a delete), so that it commits on a
   * full disk: SQLite gives up the space held back beside its file
   * (disk-reserve.ts) while the disk is too full for it, and runs it again.
   * PostgreSQL's disk is its server's: `fn` runs once.
   */
  freeing<T>(fn: () => Promise<T>): Promise<T>;
  /**
   * Whether the space held back for deletes is in place (put back now if
   * there is room): new data waits for it. Always true with PostgreSQL.
   */
  reserveInPlace(): boolean;
  close(): Promise<void>;
}

/** The drizzle handle store code builds queries on (see StoreDb for the rules). */
export type Db<S extends Record<string, unknown>> = BunSQLiteDatabase<S>;

/** A select that can be prepared (SQLite's builder type; pg's has the same shape at run time). */
export interface PreparableQuery<R> extends PromiseLike<R[]> {
  prepare(): { get(params?: Record<string, unknown>): unknown };
}

/** Where to find a mode's schema and migrations for each engine. */
export interface StoreSchemas<S extends Record<string, unknown>> {
  /** The SQLite schema: the types store code is written against. */
  schema: S;
  migrations: readonly Migration[];
  /** The same tables for PostgreSQL (schema-pg.ts). */
  pgSchema: Record<string, unknown>;
  pgMigrations: readonly Migration[];
}

/** Runs async sections one after another (SQLite's single connection). */
export class Serial {
  private tail: Promise<unknown> = Promise.resolve();

  run<T>(fn: () => Promise<T>): Promise<T> {
    const result = this.tail.then(fn);
    // The caller gets `result`, failure included; the queue only waits for it to settle.
    this.tail = Promise.allSettled([result]);
    return result;
  }
}
