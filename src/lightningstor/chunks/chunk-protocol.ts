import { z } from "zod";
import type { BlockChecksums } from "../../util/checked-range.ts";

/**
 * The wire side of a storage node's chunk API (`/v1/chunks`), shared by the
 * node's routes and the gateway's client: the CRC32 header and the shapes of
 * the JSON replies.
 */

/** The header carrying a chunk's CRC32 (IEEE), as 8 lower-case hex digits, both ways. */
export const CRC_HEADER = "x-photon-crc32";

export function formatCrc(crc32: number): string {
  return (crc32 >>> 0).toString(16).padStart(8, "0");
}

/** The CRC32 in a header value; undefined when it is not 8 lower-case hex digits. */
export function parseCrc(value: string): number | undefined {
  return /^[0-9a-f]{8}$/.test(value) ? Number.parseInt(value, 16) : undefined;
}

/**
 * The header carrying a copy's block checksums on GET: the block size, a
 * space, and the blocks' CRC32s (big-endian) in base64 — 1.4 KB for a 16 MiB
 * chunk of 64 KiB blocks. A copy without it is checked whole, by CRC_HEADER.
 */
export const BLOCKS_HEADER = "x-photon-blocks";

export function formatBlocks(sums: BlockChecksums): string {
  const table = Buffer.alloc(sums.crcs.length * 4);
  for (let i = 0; i < sums.crcs.length; i++) table.writeUInt32BE(sums.crcs[i]! >>> 0, i * 4);
  return `${sums.blockSize} ${table.toString("base64")}`;
}

/** The block checksums of a copy of `size` bytes; undefined when the value does not describe them. */
export function parseBlocks(value: string, size: number): BlockChecksums | undefined {
  const match = /^([1-9][0-9]{0,9}) ([A-Za-z0-9+/]*={0,2})$/.exec(value);
  if (!match) return undefined;
  const blockSize = Number(match[1]);
  const table = Buffer.from(match[2]!, "base64");
  if (table.length !== Math.ceil(size / blockSize) * 4) return undefined;
  const crcs = new Uint32Array(table.length / 4);
  for (let i = 0; i < crcs.length; i++) crcs[i] = table.readUInt32BE(i * 4);
  return { size, blockSize, crcs };
}

/** A PUT's 201 reply: what the node stored. */
export const storedReply = z.object({ id: z.string(), size: z.number().int().nonnegative(), crc32: z.number().int().nonnegative() });

/** `GET /v1/chunks`: every copy the node holds, with when it was written (ISO 8601). */
export const listReply = z.object({ chunks: z.array(z.object({ id: z.string(), writtenAt: z.string() })) });

/**
 * A chained PUT (chain-hop.ts): the nodes that store the chunk, in order, the
 * receiver first, comma-separated; the body is in frames (chain-frames.ts).
 */
export const CHAIN_HEADER = "x-photon-chain";
/** A chained PUT's stall deadline per hop still to go, in ms: a hop waits that times the hops after it. */
export const CHAIN_PROGRESS_HEADER = "x-photon-chain-progress-ms";
/** At most this many nodes in a chain. */
export const MAX_CHAIN = 16;

/** The chain a CHAIN_HEADER names; undefined when it is not 1..MAX_CHAIN distinct http(s)://host:port URLs. */
export function parseChain(value: string): string[] | undefined {
  const nodes = value.split(",").map((url) => url.trim());
  const valid = nodes.length <= MAX_CHAIN && nodes.every((url) => /^https?:\/\/[^/\s,]+$/.test(url)) && new Set(nodes).size === nodes.length;
  return valid ? nodes : undefined;
}

/**
 * One line of a chained PUT's reply (NDJSON, 200): a node of the chain has
 * its copy fsynced (`size`, `crc32`) or failed (`error`; `full` when its disk had no room). Each node of the
 * chain gets exactly one line; the reply ends once all have.
 */
export const chainLine = z.union([
  z.object({ node: z.string(), size: z.number().int().nonnegative(), crc32: z.number().int().nonnegative() }),
  z.object({ node: z.string(), error: z.string(), full: z.boolean().optional() }),
]);
export type ChainLine = z.infer<typeof chainLine>;
