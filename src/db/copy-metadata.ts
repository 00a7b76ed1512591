import { count, getTableName, is } from "drizzle-orm";
import { getTableConfig, SQLiteTable } from "drizzle-orm/sqlite-core";
import { openPgStoreDb } from "./pg-store-db.ts";
import { openSqliteStoreDb } from "./sqlite-store-db.ts";
import type { StoreSchemas } from "./store-db.ts";

/** Rows per INSERT: well under PostgreSQL's 65,535 parameters for the widest table. */
const BATCH = 500;

/** Thrown when the copy cannot start (the target is not empty); nothing has been written. */
export class MetadataCopyError extends Error {
  override name = "MetadataCopyError";
}

/**
 * Copies a stopped installation's SQLite metadata into an empty PostgreSQL
 * database: both brought to the current format first (their migrations),
 * then every table, parents before the rows that refer to them, in one PostgreSQL transaction, so a failed copy leaves the target
 * empty. Rows travel as the JS values drizzle reads, so each engine's column
 * types apply (timestamps, booleans, JSON). Returns the rows copied per table.
 */
export async function copySqliteToPostgres<S extends Record<string, unknown>>(sqlitePath: string, url: string, schemas: StoreSchemas<S>): Promise<Record<string, number>> {
  const source = openSqliteStoreDb(sqlitePath, schemas);
  const target = await openPgStoreDb(url, schemas);
  try {
    const tables = parentsFirst(Object.entries(schemas.schema).filter((entry): entry is [string, SQLiteTable] => is(entry[1], SQLiteTable)));
    const copied: Record<string, number> = {};
    await target.transaction(async (tx) => {
      for (const [name] of tables) {
        const [rows] = await tx.select({ n: count() }).from(target.tables[name] as SQLiteTable);
        if ((rows?.n ?? 0) > 0) throw new MetadataCopyError(`the target database is not empty (table ${getTableName(target.tables[name] as SQLiteTable)} has rows): copy only into a new, empty database`);
      }
      for (const [name, table] of tables) {
        const rows = await source.db.select().from(table);
        for (let i = 0; i < rows.length; i += BATCH) await tx.insert(target.tables[name] as SQLiteTable).values(rows.slice(i, i + BATCH));
        copied[getTableName(table)] = rows.length;
      }
    });
    return copied;
  } finally {
    await target.close();
    await source.close();
  }
}

/** The tables ordered so that each comes after every table its foreign keys refer to. */
function parentsFirst(tables: [string, SQLiteTable][]): [string, SQLiteTable][] {
  const ordered: [string, SQLiteTable][] = [];
  const placed = new Set<SQLiteTable>();
  const parents = (table: SQLiteTable) => getTableConfig(table).foreignKeys.map((fk) => fk.reference().foreignTable).filter((parent) => parent !== table);
  while (ordered.length < tables.length) {
    const ready = tables.filter(([, table]) => !placed.has(table) && parents(table).every((parent) => placed.has(parent)));
    if (ready.length === 0) throw new Error("the schema's foreign keys form a cycle");
    for (const entry of ready) {
      ordered.push(entry);
      placed.add(entry[1]);
    }
  }
  return ordered;
}
