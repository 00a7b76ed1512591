import { BlockCheckError, verifiedBlocks } from "../../util/checked-range.ts";
import type { ChunkNodeClient } from "./chunk-node-client.ts";
import { ChunkCorruptError, ChunkUnavailableError } from "./chunk-store.ts";
import type { ReplicationFailures } from "./replication-failures.ts";

/** What reading a chunk from its copies uses of the store (replicated-chunk-store.ts). */
export interface CopyReadContext {
  client: ChunkNodeClient;
  failures: ReplicationFailures;
  /** Copies (`node id`) found damaged and not rewritten yet: the readers add to it. */
  damaged: Set<string>;
}

/** A chunk's copies to read, in order, and the nodes that should hold one (its targets). */
export interface CopySources {
  order: readonly string[];
  targets: readonly string[];
}

/** What a streamed read met on its way. */
export interface ReadFindings {
  /** Target nodes found without a copy or with a damaged one: the caller repairs them. */
  lacking: Set<string>;
  /** Nodes whose bytes were passed on. */
  used: Set<string>;
}

/** Findings to fill. */
export const noFindings = (): ReadFindings => ({ lacking: new Set(), used: new Set() });

/**
 * Streams bytes [from, to) of chunk `id` from the nodes of `sources.order`
 * (those known damaged, then nodes that failed recently, last), each block
 * checked against its CRC32 before it is passed on (checked-range.ts). A copy
 * that is missing, unreachable, breaks off or has a damaged block, or leaves
 * the reader waiting past its deadline (chunk-node-client.ts), hands over to
 * the next one at the first byte not yet sent, so the reader never sees the
 * switch; only when no copy has the rest intact does the stream end with an
 * error (a short body, never a wrong byte). What it met goes into `found`.
 */
export async function* streamCopies(ctx: CopyReadContext, id: string, sources: CopySources, from: number, to: number, found: ReadFindings): AsyncGenerator<Uint8Array> {
  if (from >= to) return;
  let at = from;
  let corrupt = false;
  const { client, failures, damaged } = ctx;
  const known = (node: string) => damaged.has(`${node} ${id}`);
  const damagedLast = [...sources.order.filter((node) => !known(node)), ...sources.order.filter(known)];
  for (const node of client.health.healthyFirst(damagedLast)) {
    const copy = await client.get(node, id, { whole: false, range: { from: at, to } }).catch((err: unknown) => {
      failures.report("unreachable", "storage node did not send a copy; reading another", { node, chunk: id }, err);
      return "failed" as const;
    });
    if (copy === "failed") continue;
    if (!copy) {
      if (sources.targets.includes(node)) found.lacking.add(node);
      continue;
    }
    try {
      for await (const piece of verifiedBlocks(copy.body, copy.blocks, copy.start, at, to)) {
        at += piece.length;
        found.used.add(node);
        yield piece;
      }
      return;
    } catch (err) {
      if (!(err instanceof BlockCheckError && err.damaged)) {
        failures.report("unreachable", "a storage node broke off sending a copy; reading the rest from another", { node, chunk: id }, err);
        continue;
      }
      corrupt = true;
      damaged.add(`${node} ${id}`);
      if (sources.targets.includes(node)) found.lacking.add(node);
      failures.report("corrupt", "a block of a chunk copy does not match its checksum; reading the rest from another copy", { node, chunk: id }, err);
    }
  }
  const detail = `no copy has bytes ${at}-${to - 1} intact`;
  throw corrupt ? new ChunkCorruptError(id, detail) : new ChunkUnavailableError(id, detail);
}

/**
 * The first copy in `sources.order` read whole that matches its CRC32, and
 * which of the targets lacked one or had a damaged one; no bytes when no node
 * has a copy. Throws ChunkCorruptError when every copy found is damaged.
 */
export async function readWholeCopy(ctx: CopyReadContext, id: string, sources: CopySources): Promise<{ bytes?: Buffer; needRepair: string[] }> {
  const needRepair: string[] = [];
  let corrupt = false;
  for (const node of sources.order) {
    const copy = await wholeCopyOf(ctx, node, id).catch((err: unknown) => {
      ctx.failures.report("unreachable", "storage node did not send a copy; reading another", { node, chunk: id }, err);
      return "failed" as const;
    });
    if (copy === "failed") continue;
    if (copy === "missing" || copy === "corrupt") {
      if (copy === "corrupt") corrupt = true;
      if (sources.targets.includes(node)) needRepair.push(node);
      continue;
    }
    return { bytes: copy, needRepair };
  }
  if (corrupt) throw new ChunkCorruptError(id, "no copy matches its checksum");
  return { needRepair };
}

/** One node's copy, checked against the CRC32 it was stored with. */
async function wholeCopyOf(ctx: CopyReadContext, node: string, id: string): Promise<Buffer | "missing" | "corrupt"> {
  const copy = await ctx.client.get(node, id, { whole: true });
  if (!copy) return "missing";
  const bytes = Buffer.from(await Bun.readableStreamToArrayBuffer(copy.body));
  if (Bun.hash.crc32(bytes) >>> 0 === copy.crc32) return bytes;
  ctx.failures.report("corrupt", "a chunk copy does not match its checksum; reading another", { node, chunk: id });
  ctx.damaged.add(`${node} ${id}`);
  return "corrupt";
}
