import { expect, test } from "bun:test";
import { assertChunkId } from "./chunk-store.ts";
import { chunkOwner, newChunkId, newOwnerId } from "./chunk-ids.ts";

test("a chunk id names its owner; a plain UUID (written before owners) names none", () => {
  const owner = newOwnerId();
  expect(owner).toMatch(/^[0-9a-f]{16}$/);
  const id = newChunkId(owner);
  assertChunkId(id);
  expect(chunkOwner(id)).toBe(owner);
  expect(chunkOwner(newChunkId())).toBeUndefined();
  expect(chunkOwner(crypto.randomUUID())).toBeUndefined();
  expect(chunkOwner(`${crypto.randomUUID()}-${owner.slice(1)}`)).toBeUndefined();
  expect(newChunkId(owner)).not.toBe(id);
  // Ids still spread over the fan-out directories (their first two digits).
  expect(new Set(Array.from({ length: 64 }, () => newChunkId(owner).slice(0, 2))).size).toBeGreaterThan(16);
});
