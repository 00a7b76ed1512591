import { Database } from "bun:sqlite";
import { drizzle, type BunSQLiteDatabase } from "drizzle-orm/bun-sqlite";
import { chmodSync, closeSync, existsSync, openSync, statSync } from "node:fs";
import { dirname } from "node:path";
import { ensureDir } from "../util/fs.ts";
import { DiskReserve } from "./disk-reserve.ts";
import { applyMigrations, type Migration } from "./migrate.ts";

/** An open metadata database: the drizzle handle and the raw connection. */
export interface MetadataDb<S extends Record<string, unknown>> {
  db: BunSQLiteDatabase<S>;
  sqlite: Database;
  /** Space held back beside the file so deletes commit on a full disk (disk-reserve.ts). */
  reserve: DiskReserve;
  close(): void;
}

/**
 * Opens (creating if needed) a mode's SQLite file with the settings every
 * mode uses: WAL, synchronous=FULL (a commit is fsynced before it returns, so
 * an acknowledged metadata change survives power loss), a busy timeout, and
 * the embedded migrations applied; and a reserve of disk space for deletes.
 * The file is private (0600) from its creation, and so are its -wal and -shm
 * files (SQLite gives them the database file's mode): it may hold secrets.
 */
export function openMetadataDb<S extends Record<string, unknown>>(
  path: string,
  schema: S,
  migrations: readonly Migration[],
): MetadataDb<S> {
  ensureDir(dirname(path));
  createPrivately(path);
  const sqlite = new Database(path, { create: true, strict: true });
  sqlite.run("PRAGMA journal_mode = WAL");
  sqlite.run("PRAGMA synchronous = FULL");
  sqlite.run("PRAGMA busy_timeout = 5000");
  sqlite.run("PRAGMA foreign_keys = ON");
  applyMigrations(sqlite, migrations);
  const reserve = new DiskReserve(`${path}-reserve`);
  reserve.ensure();
  return { db: drizzle({ client: sqlite, schema }), sqlite, reserve, close: () => sqlite.close() };
}

/**
 * Creates the database file with mode 0600 before SQLite opens it (SQLite
 * would create it 0644, less the umask). Files left wider by an earlier
 * version are narrowed, with their -wal and -shm.
 */
function createPrivately(path: string): void {
  closeSync(openSync(path, "a", 0o600));
  for (const file of [path, `${path}-wal`, `${path}-shm`]) {
    if (existsSync(file) && (statSync(file).mode & 0o077) !== 0) chmodSync(file, 0o600);
  }
}
