import { afterEach, describe, expect, test } from "bun:test";
import { closeSync, mkdirSync, mkdtempSync, openSync, readdirSync, readFileSync, rmSync, writeFileSync, writeSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Server } from "bun";
import { Registry } from "prom-client";
import { waitFor } from "../../../test/helpers/wait-for.ts";
import { blockCrcs } from "../../util/checked-range.ts";
import { createAdminApp } from "../../http/admin-app.ts";
import { createHttpMetrics } from "../../http/metrics.ts";
import { createLogger } from "../../util/log.ts";
import { newChunkId, newOwnerId } from "./chunk-ids.ts";
import { chunkRoutes } from "./chunk-routes.ts";
import { ChunkCorruptError, ChunkUnavailableError, type ChunkStore } from "./chunk-store.ts";
import { collectGarbage } from "./gc.ts";
import { LocalChunkStore } from "./local-chunk-store.ts";
import { placement } from "./placement.ts";
import { ReplicatedChunkStore } from "./replicated-chunk-store.ts";
import { ReplicationFailures } from "./replication-failures.ts";
import { ChunkUpkeep } from "./upkeep.ts";

const dirs: string[] = [];
const servers: Server<undefined>[] = [];
/** Stops the upkeep loops the tests start. */
let upkeeps = new AbortController();
afterEach(() => {
  upkeeps.abort();
  upkeeps = new AbortController();
  for (const server of servers.splice(0)) server.stop(true);
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});
const quiet = createLogger({ level: "error" });
const token = "chunk-test-token";

/** A storage node in this process: the agent's real chunk API over a local store in `dir`, on `port` (0: any). */
function storageNode(dir: string, port = 0): { url: string; server: Server<undefined> } {
  const app = createAdminApp({ token, log: quiet, metrics: createHttpMetrics() });
  app.route("/v1/chunks", chunkRoutes(new LocalChunkStore(dir)));
  const server = Bun.serve({ hostname: "127.0.0.1", port, fetch: app.fetch });
  servers.push(server);
  return { url: `http://127.0.0.1:${server.port}`, server };
}

/** Every chunk file (and temp file) under `dir`. */
function chunkFiles(dir: string): string[] {
  return readdirSync(dir, { recursive: true, encoding: "utf8" }).filter((f) => /[0-9a-f]{10}/.test(f.split("/").pop()!));
}

/** Overwrites a byte (at `offset`) of every copy of the chunk under `dir`. */
function corruptCopies(dir: string, id: string, offset = 10): void {
  for (const file of chunkFiles(dir).filter((f) => f.endsWith(id))) {
    const fd = openSync(join(dir, file), "r+");
    writeSync(fd, Buffer.from([0xff]), 0, 1, offset);
    closeSync(fd);
  }
}
function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), "chunks-"));
  dirs.push(dir);
  return dir;
}

/** One contract for every ChunkStore. */
const implementations: { name: string; make: (dir: string) => ChunkStore }[] = [
  { name: "local", make: (dir) => new LocalChunkStore(dir) },
  {
    name: "replicated (2 copies over 3 storage nodes)",
    make: (dir) => {
      const nodes = [1, 2, 3].map((n) => storageNode(join(dir, `node${n}`)).url);
      return new ReplicatedChunkStore({ nodes, replicas: 2, writeQuorum: 2, token }, quiet);
    },
  },
];

async function* pieces(data: Buffer, step: number) {
  for (let at = 0; at < data.length; at += step) yield data.subarray(at, at + step);
}

for (const impl of implementations) {
  describe(`ChunkStore contract: ${impl.name}`, () => {
    test("put then get and stat return the same bytes, size and CRC32", async () => {
      const store = impl.make(tempDir());
      const data = Buffer.from("x".repeat(100_000) + "end");
      const info = await store.put("0123abcd-0000-4000-8000-000000000001", pieces(data, 7777));
      expect(info).toEqual({ id: "0123abcd-0000-4000-8000-000000000001", size: data.length, crc32: Bun.hash.crc32(data) >>> 0 });
      expect((await store.get(info.id))!.equals(data)).toBe(true);
      expect(await store.stat(info.id)).toEqual(info);
    });

    test("open gives any range: a part of a file with the block CRC32s to check it against, or a checked stream", async () => {
      const store = impl.make(tempDir());
      const data = Buffer.from(Array.from({ length: 200_000 }, (_, i) => i % 251));
      await store.put("abab000002", data);
      for (const [from, to] of [[0, data.length], [1000, 150_000], [199_999, 200_000]] as const) {
        const range = (await store.open("abab000002", from, to))!;
        expect(range.length).toBe(to - from);
        const got: Uint8Array[] = [];
        if (range.kind === "stream") for await (const piece of range.pieces) got.push(piece);
        else {
          got.push(readFileSync(range.path).subarray(range.offset, range.offset + range.length));
          expect(range.check).toEqual({ size: data.length, blockSize: 65536, crcs: blockCrcs(data, 65536) });
        }
        expect(Buffer.concat(got).equals(data.subarray(from, to))).toBe(true);
      }
    });

    test("absent chunks are undefined and deleting twice reports false", async () => {
      const store = impl.make(tempDir());
      expect(await store.get("deadbeef00")).toBeUndefined();
      expect(await store.stat("deadbeef00")).toBeUndefined();
      await store.put("deadbeef00", Buffer.from("a"));
      expect(await store.delete("deadbeef00")).toBe(true);
      expect(await store.delete("deadbeef00")).toBe(false);
      expect(await store.get("deadbeef00")).toBeUndefined();
    });

    test("a damaged chunk is reported corrupt, never returned", async () => {
      const dir = tempDir();
      const store = impl.make(dir);
      await store.put("cafebabe01", Buffer.alloc(4096, 1));
      corruptCopies(dir, "cafebabe01");
      await expect(store.get("cafebabe01")).rejects.toBeInstanceOf(ChunkCorruptError);
    });

    test("a failed upload leaves nothing behind and ids cannot name paths", async () => {
      const dir = tempDir();
      const store = impl.make(dir);
      async function* failing() {
        yield Buffer.from("partial");
        throw new Error("client went away");
      }
      await expect(store.put("abcdef0001", failing())).rejects.toThrow("client went away");
      expect(await store.stat("abcdef0001")).toBeUndefined();
      // A storage node notices the aborted body a moment after the put fails.
      const leftovers = () => chunkFiles(dir).filter((f) => f.includes("abcdef0001"));
      await waitFor(() => leftovers().length === 0, "the storage node to drop the aborted copy");
      for (const bad of ["../../etc/passwd", "ABC", "x", "ab/cd0000"]) await expect(store.put(bad, Buffer.from("a"))).rejects.toThrow("invalid chunk id");
    });

    test("ids are never reused: putting an existing id fails and keeps the chunk", async () => {
      const store = impl.make(tempDir());
      await store.put("facade0001", Buffer.from("old"));
      await expect(store.put("facade0001", Buffer.from("new!"))).rejects.toThrow();
      expect((await store.get("facade0001"))!.toString()).toBe("old");
    });
  });
}

test("a scrub deletes the chunks that no longer match their checksum, and only those", async () => {
  const dir = tempDir();
  const store = new LocalChunkStore(dir);
  await store.put("aaaa000011", Buffer.alloc(50_000, 1));
  await store.put("aaaa000012", Buffer.alloc(50_000, 2));
  corruptCopies(dir, "aaaa000012");
  expect(await store.scrub()).toEqual(["aaaa000012"]);
  expect(store.list().map((c) => c.id)).toEqual(["aaaa000011"]);
  expect(await store.scrub()).toEqual([]);
});

/** Writes a chunk file in format 1 (before block checksums): the data, `PHTNCHK1`, its CRC32 (BE), 4 reserved bytes. */
function writeFormat1(dir: string, id: string, data: Buffer): string {
  const footer = Buffer.alloc(16);
  footer.write("PHTNCHK1", 0, "latin1");
  footer.writeUInt32BE(Bun.hash.crc32(data) >>> 0, 8);
  mkdirSync(join(dir, id.slice(0, 2)), { recursive: true });
  const path = join(dir, id.slice(0, 2), id);
  writeFileSync(path, Buffer.concat([data, footer]));
  return path;
}

test("chunks written in format 1 (one CRC32) are still read, checked whole; new ones get a checksum per 64 KiB block", async () => {
  const dir = tempDir();
  const data = Buffer.from(Array.from({ length: 200_000 }, (_, i) => (i * 7) % 253));
  writeFormat1(dir, "0001d00001", data);
  const damaged = writeFormat1(dir, "0001d00002", data);
  const fd = openSync(damaged, "r+");
  writeSync(fd, Buffer.from([0]), 0, 1, 150_000);
  closeSync(fd);
  const store = new LocalChunkStore(dir);
  expect((await store.get("0001d00001"))!.equals(data)).toBe(true);
  expect(await store.stat("0001d00001")).toEqual({ id: "0001d00001", size: data.length, crc32: Bun.hash.crc32(data) >>> 0 });
  expect((await store.open("0001d00001", 10, 20))!.check).toEqual({ size: data.length, blockSize: data.length, crcs: [Bun.hash.crc32(data) >>> 0] });
  await expect(store.get("0001d00002")).rejects.toBeInstanceOf(ChunkCorruptError);
  expect(await store.scrub()).toEqual(["0001d00002"]);
  // A new chunk: the data, a CRC32 per block, and the footer naming format 2.
  await store.put("0002d00001", data);
  const file = readFileSync(join(dir, "00", "0002d00001"));
  expect(file.length).toBe(data.length + 4 * 4 + 16);
  expect(file.subarray(file.length - 16, file.length - 8).toString("latin1")).toBe("PHTNCHK2");
  expect((await store.get("0002d00001"))!.equals(data)).toBe(true);
  // Streamed from storage nodes too, format 1 and 2 alike.
  const node = storageNode(dir);
  const replicated = new ReplicatedChunkStore({ nodes: [node.url], replicas: 1, writeQuorum: 1, token }, quiet);
  for (const id of ["0001d00001", "0002d00001"]) {
    const got: Uint8Array[] = [];
    for await (const piece of (await replicated.open(id, 70_000, 190_000)).pieces) got.push(piece);
    expect(Buffer.concat(got).equals(data.subarray(70_000, 190_000))).toBe(true);
  }
});

test("the local store's sweep removes temporary files and unreferenced chunks only", async () => {
  const dir = tempDir();
  const store = new LocalChunkStore(dir);
  await store.put("aaaa000001", Buffer.from("keep"));
  await store.put("aaaa000002", Buffer.from("orphan"));
  await Bun.write(join(dir, "aa", "aaaa000003.tmp"), "half");
  expect(store.sweep((id) => id === "aaaa000001")).toBe(2);
  expect(readdirSync(join(dir, "aa"))).toEqual(["aaaa000001"]);
  expect((await store.get("aaaa000001"))!.toString()).toBe("keep");
});

describe("replication", () => {
  /**
   * Three storage nodes and a store keeping `replicas` copies, `writeQuorum` of
   * them before a put resolves, with its upkeep running every 100 ms.
   */
  function cluster(replicas: number, writeQuorum: number, log = quiet, owner?: string) {
    const dir = tempDir();
    const nodes = [1, 2, 3].map((n) => ({ dir: join(dir, `node${n}`), ...storageNode(join(dir, `node${n}`)) }));
    const urls = nodes.map((n) => n.url);
    const registry = new Registry();
    const store = new ReplicatedChunkStore({ nodes: urls, replicas, writeQuorum, token, deadlines: { answerMs: 2000, progressMs: 2000, requestMs: 2000 }, owner }, log, new ReplicationFailures(log, registry));
    const upkeep = new ChunkUpkeep(store, log, { repairEveryMs: 100 });
    void upkeep.start(upkeeps.signal);
    const holders = (id: string) => nodes.filter((n) => chunkFiles(n.dir).some((f) => f.endsWith(id))).map((n) => n.url);
    const order = (id: string) => placement(urls, id);
    return { dir, nodes, store, upkeep, holders, order, registry };
  }

  test("each chunk lands on the first R nodes of its rendezvous order, which differs from chunk to chunk", async () => {
    const { store, holders, order } = cluster(2, 2);
    const firsts = new Set<string>();
    for (let i = 0; i < 48; i++) {
      const id = `abcd0000${String(i).padStart(2, "0")}`;
      await store.put(id, Buffer.from(`chunk ${i}`));
      expect(holders(id).sort()).toEqual(order(id).slice(0, 2).sort());
      firsts.add(order(id)[0]!);
    }
    expect(firsts.size).toBe(3);
  });

  test("a put is acknowledged with a node down once W copies are stored; a read repairs a damaged copy; the node gets its copy back", async () => {
    const { nodes, store, holders, order } = cluster(3, 2);
    const id = "bbbb000001";
    const down = nodes.find((n) => n.url === order(id)[0])!;
    down.server.stop(true);
    const data = Buffer.alloc(100_000, 7);
    await store.put(id, data);
    expect(holders(id)).toHaveLength(2);

    // Damage the first copy the read will meet; the read still returns the right bytes and rewrites it.
    const first = nodes.find((n) => n.url === order(id)[1])!;
    corruptCopies(first.dir, id);
    expect((await store.get(id))!.equals(data)).toBe(true);
    const repaired = () => readFileSync(join(first.dir, chunkFiles(first.dir).find((f) => f.endsWith(id))!));
    await waitFor(() => repaired().subarray(0, data.length).equals(data), "the damaged copy to be rewritten");

    // The node comes back without the copy it missed, and gets it without any read.
    const back = storageNode(down.dir, Number(new URL(down.url).port));
    expect(back.url).toBe(down.url);
    await waitFor(() => holders(id).length === 3, "the node to get the copy it missed");
  });

  test("a streamed read gives any range and switches copies at a damaged block; only a block damaged everywhere ends it short", async () => {
    const { nodes, store, order, holders } = cluster(3, 2);
    const id = "eeee000001";
    const data = Buffer.from(Array.from({ length: 300_000 }, (_, i) => i % 251));
    await store.put(id, data);
    const streamed = async (from: number, to: number) => {
      const pieces: Uint8Array[] = [];
      try {
        for await (const piece of (await store.open(id, from, to)).pieces) pieces.push(piece);
        return { bytes: Buffer.concat(pieces) };
      } catch (err) {
        return { bytes: Buffer.concat(pieces), err };
      }
    };
    expect((await streamed(1000, 250_000)).bytes.equals(data.subarray(1000, 250_000))).toBe(true);
    expect((await streamed(0, data.length)).bytes.equals(data)).toBe(true);
    // Block 1 damaged on the first copy, block 3 on the second: every block is intact somewhere.
    const [first, second] = order(id).map((url) => nodes.find((n) => n.url === url)!.dir);
    corruptCopies(first!, id, 70_000);
    corruptCopies(second!, id, 200_000);
    const switched = await streamed(1000, data.length);
    expect(switched.err).toBeUndefined();
    expect(switched.bytes.equals(data.subarray(1000))).toBe(true);
    // The damaged copies are rewritten; then damage the same block everywhere.
    await waitFor(async () => (await store.readIntact(id)).needRepair.length === 0 && holders(id).length === 3, "the damaged copies to be rewritten");
    for (const node of nodes) corruptCopies(node.dir, id, 70_000);
    const broken = await streamed(0, data.length);
    expect(broken.err).toBeInstanceOf(ChunkCorruptError);
    expect(broken.bytes.equals(data.subarray(0, 65536))).toBe(true);
  });

  test("anti-entropy finds a copy a node lost and gives it back", async () => {
    const { nodes, store, upkeep, holders } = cluster(3, 3);
    await store.put("ffff000001", Buffer.from("kept three times"));
    await store.put("ffff000002", Buffer.from("untouched"));
    const lost = nodes[1]!;
    rmSync(join(lost.dir, chunkFiles(lost.dir).find((f) => f.endsWith("ffff000001"))!));
    expect(holders("ffff000001")).toHaveLength(2);
    expect(await upkeep.checkCopies(["ffff000001", "ffff000002"])).toBe(1);
    await waitFor(() => holders("ffff000001").length === 3, "the lost copy to come back");
  });

  test("garbage collection removes this gateway's unreferenced copies old enough, on every node, and nothing else", async () => {
    const { store, holders } = cluster(2, 2);
    const [mine, other] = [newOwnerId(), newOwnerId()];
    const [kept, orphan, others, legacy] = [newChunkId(mine), newChunkId(mine), newChunkId(other), newChunkId()];
    for (const id of [kept, orphan, others, legacy]) await store.put(id, Buffer.from(id));
    const isReferenced = (id: string) => id === kept;
    expect(await collectGarbage(store, { owner: mine, isReferenced, minAgeMs: 60_000 })).toEqual({ removed: 0, unowned: 0, young: 2 }); // too young: may be a write under way
    expect(await collectGarbage(store, { owner: mine, isReferenced, minAgeMs: 0 })).toEqual({ removed: 2, unowned: 2, young: 0 });
    // Another gateway's copy and one written before ids named their gateway are kept.
    expect([kept, orphan, others, legacy].map((id) => holders(id).length)).toEqual([2, 0, 2, 2]);
    expect((await store.get(kept))!.toString()).toBe(kept);
  });

  test("garbage collection keeps the chunks of writes under way in this process, however old, until they are referenced or abandoned", async () => {
    const { store, holders } = cluster(2, 2, quiet, newOwnerId());
    const streaming = store.newId();
    await store.put(streaming, Buffer.from("a PUT still streaming its next chunk"));
    const owner = store.owner!;
    expect(await collectGarbage(store, { owner, isReferenced: () => false, minAgeMs: 0 })).toEqual({ removed: 0, unowned: 0, young: 0 });
    expect(holders(streaming)).toHaveLength(2);
    // Once referenced it is no write under way any more: when its object goes, so does the copy.
    expect(await collectGarbage(store, { owner, isReferenced: (id) => id === streaming, minAgeMs: 0 })).toEqual({ removed: 0, unowned: 0, young: 0 });
    expect(await collectGarbage(store, { owner, isReferenced: () => false, minAgeMs: 0 })).toEqual({ removed: 2, unowned: 0, young: 0 });
    expect(holders(streaming)).toHaveLength(0);
  });

  test("without a write quorum a put fails and leaves no copy behind", async () => {
    const { nodes, store, holders, order } = cluster(3, 2);
    const id = "cccc000001";
    for (const node of nodes.filter((n) => n.url !== order(id)[2])) node.server.stop(true);
    await expect(store.put(id, Buffer.from("not acknowledged"))).rejects.toBeInstanceOf(ChunkUnavailableError);
    expect(holders(id)).toEqual([]);
  });

  test("a put whose sender fails mid-body leaves no copy and marks no node unhealthy; a node that refuses connections is marked", async () => {
    const { nodes, store, holders, order } = cluster(3, 2);
    async function* failing() {
      yield Buffer.alloc(200_000, 1);
      throw new Error("the client went away");
    }
    await expect(store.put("cccc000002", failing())).rejects.toThrow("the client went away");
    await waitFor(() => holders("cccc000002").length === 0, "no copy left");
    expect(store.client.health.unhealthy(nodes.map((n) => n.url))).toEqual([]);
    const down = nodes.find((n) => n.url === order("cccc000003")[0])!;
    down.server.stop(true);
    await store.put("cccc000003", Buffer.from("two of three"));
    await waitFor(() => store.client.health.unhealthy(nodes.map((n) => n.url)).length === 1, "the stopped node to be marked");
    expect(store.client.health.unhealthy(nodes.map((n) => n.url))).toEqual([down.url]);
  });

  test("an unreachable node is counted on /metrics at each failure and logged once with the node and chunk", async () => {
    const lines: { msg: string; node?: string; chunk?: string }[] = [];
    const log = createLogger({ level: "warn", pretty: false, write: (line) => lines.push(JSON.parse(line)) });
    const { nodes, store, order, registry } = cluster(2, 1, log);
    const id = "abab000001";
    await store.put(id, Buffer.from("read twice"));
    const down = nodes.find((n) => n.url === order(id)[0])!;
    down.server.stop(true);
    for (let i = 0; i < 3; i++) expect((await store.get(id))!.toString()).toBe("read twice");
    const metric = (await registry.getSingleMetric("photon_chunk_failures_total")!.get()).values.find((v) => v.labels.kind === "unreachable" && v.labels.node === down.url);
    expect(metric?.value).toBeGreaterThanOrEqual(3);
    expect(lines.filter((l) => l.node === down.url && l.chunk === id)).toHaveLength(1);
  });
});
