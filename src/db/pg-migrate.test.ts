import { afterAll, beforeAll, expect, test } from "bun:test";
import { SQL } from "bun";
import { startPostgres, type TestPostgres } from "../../test/helpers/postgres.ts";
import { applyPgMigrations } from "./pg-migrate.ts";

// A real PostgreSQL server (a throwaway cluster), not a stand-in.
let pg: TestPostgres;
beforeAll(() => {
  pg = startPostgres();
});
afterAll(() => pg.stop());

// Each statement fails if run twice: a second application would be an error, not a no-op.
const migrations = [
  { tag: "0000_a", sql: "CREATE TABLE a (id int PRIMARY KEY);\n--> statement-breakpoint\nINSERT INTO a VALUES (1);" },
  { tag: "0001_b", sql: "CREATE TABLE b (id int PRIMARY KEY);" },
];

test("processes starting together on one database apply each migration once", async () => {
  const url = await pg.createDatabase();
  const clients = Array.from({ length: 4 }, () => new SQL(url));
  try {
    const applied = await Promise.all(clients.map((client) => applyPgMigrations(client, migrations)));
    expect(applied.filter((tags) => tags.length > 0)).toEqual([["0000_a", "0001_b"]]);
    const [client] = clients;
    expect(await client!`SELECT tag FROM __photon_migrations ORDER BY tag`).toEqual([{ tag: "0000_a" }, { tag: "0001_b" }]);
    expect(await client!`SELECT id FROM a`).toEqual([{ id: 1 }]);
  } finally {
    await Promise.all(clients.map((client) => client.close()));
  }
});

test("a failing migration leaves nothing of itself and is tried again at the next start", async () => {
  const url = await pg.createDatabase();
  const client = new SQL(url);
  try {
    const broken = [migrations[0]!, { tag: "0001_b", sql: "CREATE TABLE b (id int PRIMARY KEY);\n--> statement-breakpoint\nSELECT no_such_function();" }];
    await expect(applyPgMigrations(client, broken)).rejects.toThrow(/no_such_function/);
    expect(await client`SELECT to_regclass('a') IS NULL AS gone, to_regclass('b') IS NULL AS also_gone`).toEqual([{ gone: true, also_gone: true }]);
    expect(await applyPgMigrations(client, migrations)).toEqual(["0000_a", "0001_b"]);
  } finally {
    await client.close();
  }
});
