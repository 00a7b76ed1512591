import { afterEach, describe, expect, test } from "bun:test";
import { closeSync, mkdtempSync, openSync, readdirSync, readFileSync, rmSync, writeSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ChunkCorruptError, type ChunkStore } from "./chunk-store.ts";
import { LocalChunkStore } from "./local-chunk-store.ts";

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});
function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), "chunks-"));
  dirs.push(dir);
  return dir;
}

/** One contract for every ChunkStore (the replicated one will join this list). */
const implementations: { name: string; make: (dir: string) => ChunkStore; corrupt: (dir: string, id: string) => void }[] = [
  {
    name: "local",
    make: (dir) => new LocalChunkStore(dir),
    corrupt: (dir, id) => {
      const fd = openSync(join(dir, id.slice(0, 2), id), "r+");
      writeSync(fd, Buffer.from([0xff]), 0, 1, 10);
      closeSync(fd);
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
      const file = (await store.localFile(info.id))!;
      expect(readFileSync(file.path).subarray(0, file.size).equals(data)).toBe(true);
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
      impl.corrupt(dir, "cafebabe01");
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
      expect(readdirSync(join(dir, "ab"))).toEqual([]);
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
