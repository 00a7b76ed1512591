import { z } from "zod";

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

/** A PUT's 201 reply: what the node stored. */
export const storedReply = z.object({ id: z.string(), size: z.number().int().nonnegative(), crc32: z.number().int().nonnegative() });

/** `GET /v1/chunks`: every copy the node holds, with when it was written (ISO 8601). */
export const listReply = z.object({ chunks: z.array(z.object({ id: z.string(), writtenAt: z.string() })) });
