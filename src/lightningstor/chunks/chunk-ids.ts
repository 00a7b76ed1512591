import { randomBytes } from "node:crypto";

/**
 * Chunk ids name the gateway that wrote them: `<uuid>-<owner>`, the owner
 * being 16 hex digits kept in that gateway's database. Several gateways share
 * the storage nodes, and each collects only the copies it wrote (gc.ts): a
 * copy of another gateway's is referenced by a database this one cannot see.
 * The random UUID comes first so ids still spread over the nodes' fan-out
 * directories, which take the first two digits.
 */
const OWNED = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}-([0-9a-f]{16})$/;

/** A new owner id (a gateway's, made once and kept). */
export function newOwnerId(): string {
  return randomBytes(8).toString("hex");
}

/** A fresh chunk id; with `owner`, namespaced by it. */
export function newChunkId(owner?: string): string {
  const id = crypto.randomUUID();
  return owner === undefined ? id : `${id}-${owner}`;
}

/** The gateway that wrote a chunk; undefined for ids made before owners (a plain UUID) or by tests. */
export function chunkOwner(id: string): string | undefined {
  return OWNED.exec(id)?.[1];
}
