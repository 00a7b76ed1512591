import { afterEach, expect, test } from "bun:test";
import { Database } from "bun:sqlite";
import { rmSync, statSync } from "node:fs";
import { join } from "node:path";
import { fillDisk, smallDisk } from "../../test/helpers/small-disk.ts";
import { DiskReserve, RESERVE_BYTES } from "./disk-reserve.ts";

const disks: { [Symbol.dispose](): void }[] = [];
const databases: Database[] = [];
afterEach(() => {
  for (const db of databases.splice(0)) db.close();
  for (const disk of disks.splice(0)) disk[Symbol.dispose]();
});

test("a delete commits on a full disk by giving up reserve slices; writes wait until the reserve is whole again", () => {
  const disk = smallDisk("16m");
  disks.push(disk);
  const dir = disk.path;
  const db = new Database(join(dir, "x.db"), { create: true, strict: true });
  databases.push(db);
  db.run("PRAGMA journal_mode = WAL");
  db.run("PRAGMA synchronous = FULL");
  db.run("CREATE TABLE t (k INTEGER PRIMARY KEY, v TEXT)");
  for (let k = 0; k < 500; k++) db.run("INSERT INTO t VALUES (?, ?)", [k, "x".repeat(2000)]);
  const reserve = new DiskReserve(join(dir, "x.db-reserve"));
  expect(reserve.ensure()).toBe(true);
  expect(statSync(join(dir, "x.db-reserve")).size).toBe(RESERVE_BYTES);
  const filler = fillDisk(dir);
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
  rmSync(filler);
  expect(reserve.ensure()).toBe(true);
  expect(statSync(join(dir, "x.db-reserve")).size).toBe(RESERVE_BYTES);
});
