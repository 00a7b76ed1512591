import { expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { openMetadataDb } from "../db/open.ts";
import { openSqliteStoreDb } from "../db/sqlite-store-db.ts";
import { controllerMigrations } from "./migrations/index.ts";
import { NodeStore } from "./node-store.ts";
import { controllerSchemas } from "./server.ts";

const report = { name: "node1", advertise: "10.0.0.1:7071", roles: ["storage"], capacity: { cpus: 2, memoryBytes: 1, diskBytes: 100, diskFreeBytes: 50 }, version: "test" };

test("a controller database from before zones keeps its nodes, with no zone, and takes zones from then on", async () => {
  const dir = mkdtempSync(join(tmpdir(), "photon-node-store-"));
  try {
    const path = join(dir, "controller.db");
    // The previous format: every migration up to 0001 (no zone column).
    const before = controllerMigrations.filter((m) => m.tag < "0002");
    const old = openMetadataDb(path, {}, before);
    old.sqlite.run(
      "INSERT INTO nodes (id, name, advertise, roles, cpus, memory_bytes, disk_bytes, disk_free_bytes, agent_version, state, scheduling, registered_at, last_heartbeat_at) VALUES ('id-1', 'node1', '10.0.0.1:7071', '[\"storage\"]', 2, 1, 100, 50, 'old', 'up', 'drained', 1, 1)",
    );
    old.close();

    const meta = openSqliteStoreDb(path, controllerSchemas);
    const store = new NodeStore(meta);
    expect(await store.find("node1")).toMatchObject({ id: "id-1", zone: null, scheduling: "drained" });
    const { node, created } = await store.register({ ...report, zone: "rack-a" }, new Date());
    expect({ created, id: node.id, zone: node.zone, scheduling: node.scheduling }).toEqual({ created: false, id: "id-1", zone: "rack-a", scheduling: "drained" });
    expect((await store.heartbeat("id-1", report, new Date()))?.zone).toBeNull();
    await meta.close();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
