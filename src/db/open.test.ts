import { expect, test } from "bun:test";
import { chmodSync, mkdtempSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { openMetadataDb } from "./open.ts";

const modeOf = (path: string) => statSync(path).mode & 0o777;

test("a new database and its -wal and -shm files are 0600 from their creation, whatever the umask", () => {
  const dir = mkdtempSync(join(tmpdir(), "photon-dbmode-"));
  const umask = process.umask(0);
  try {
    const path = join(dir, "new.db");
    const db = openMetadataDb(path, {}, [{ tag: "0000_t", sql: "CREATE TABLE t (v TEXT)" }]);
    db.sqlite.run("INSERT INTO t VALUES ('x')");
    expect([modeOf(path), modeOf(`${path}-wal`), modeOf(`${path}-shm`)]).toEqual([0o600, 0o600, 0o600]);
    db.close();
  } finally {
    process.umask(umask);
    rmSync(dir, { recursive: true, force: true });
  }
});

test("a database an earlier version left 0644 is narrowed to 0600 and keeps its rows", () => {
  const dir = mkdtempSync(join(tmpdir(), "photon-dbmode-"));
  try {
    const path = join(dir, "old.db");
    const first = openMetadataDb(path, {}, [{ tag: "0000_t", sql: "CREATE TABLE t (v TEXT)" }]);
    first.sqlite.run("INSERT INTO t VALUES ('kept')");
    first.close();
    chmodSync(path, 0o644);
    writeFileSync(`${path}-shm`, "");
    chmodSync(`${path}-shm`, 0o644);
    const again = openMetadataDb(path, {}, [{ tag: "0000_t", sql: "CREATE TABLE t (v TEXT)" }]);
    expect(modeOf(path)).toBe(0o600);
    expect(modeOf(`${path}-shm`)).toBe(0o600);
    expect(again.sqlite.query("SELECT v FROM t").all()).toEqual([{ v: "kept" }]);
    again.close();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
