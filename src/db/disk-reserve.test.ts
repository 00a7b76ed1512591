import { afterEach, expect, test } from "bun:test";
import { Database } from "bun:sqlite";
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { DiskReserve, isDiskFull, RESERVE_BYTES } from "./disk-reserve.ts";

const cleanups: (() => void)[] = [];
afterEach(() => {
  for (const cleanup of cleanups.splice(0).reverse()) cleanup();
});

/** A 16 MiB tmpfs (the tests run as root), unmounted after the test. */
function smallDisk(): string {
  const dir = mkdtempSync(join(tmpdir(), "reserve-"));
  cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
  const mounted = spawnSync("mount", ["-t", "tmpfs", "-o", "size=16m", "tmpfs", dir]);
  if (mounted.status !== 0) throw new Error(`mount: ${mounted.stderr}`);
  cleanups.push(() => spawnSync("umount", [dir]));
  return dir;
}

/** Fills the disk with a file until writing fails. */
function fill(dir: string): void {
  try {
    writeFileSync(join(dir, "filler"), Buffer.alloc(64 * 1024 * 1024));
  } catch (err) {
    expect(isDiskFull(err)).toBe(true);
  }
}

test("a delete commits on a full disk by giving up reserve slices; writes wait until the reserve is whole again", () => {
  const dir = smallDisk();
  const db = new Database(join(dir, "x.db"), { create: true, strict: true });
  cleanups.push(() => db.close());
  db.run("PRAGMA journal_mode = WAL");
  db.run("PRAGMA synchronous = FULL");
  db.run("CREATE TABLE t (k INTEGER PRIMARY KEY, v TEXT)");
  for (let k = 0; k < 500; k++) db.run("INSERT INTO t VALUES (?, ?)", [k, "x".repeat(2000)]);
  const reserve = new DiskReserve(join(dir, "x.db-reserve"));
  expect(reserve.ensure()).toBe(true);
  expect(statSync(join(dir, "x.db-reserve")).size).toBe(RESERVE_BYTES);
  fill(dir);
  // Inserts go on until the WAL can grow no more, as writes do before the disk is found full.
  expect(() => {
    for (let k = 500; ; k++) db.run("INSERT INTO t VALUES (?, ?)", [k, "x".repeat(2000)]);
  }).toThrow("full");
  // Without the reserve SQLite cannot even delete on this disk.
  expect(() => db.run("DELETE FROM t WHERE k < 400")).toThrow("full");
  reserve.freeing(() => db.run("DELETE FROM t WHERE k < 400"));
  expect(db.query("SELECT count(*) AS n FROM t WHERE k < 500").get()).toEqual({ n: 100 });
  expect(statSync(join(dir, "x.db-reserve")).size).toBeLessThan(RESERVE_BYTES);
  expect(reserve.ensure()).toBe(false); // no room to make it whole: writes are refused
  rmSync(join(dir, "filler"));
  expect(reserve.ensure()).toBe(true);
  expect(statSync(join(dir, "x.db-reserve")).size).toBe(RESERVE_BYTES);
});
