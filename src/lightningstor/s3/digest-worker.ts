/**
 * The digest worker: computes upload bodies' MD5 (for ETags) and SHA-256
 * (payload hashes) off the event loop, fed in batches (see digests.ts).
 */
import { createHash, type Hash } from "node:crypto";

export type DigestAlgorithm = "md5" | "sha256";
export type DigestMessage =
  | { id: number; algorithms: DigestAlgorithm[] }
  | { id: number; data: ArrayBuffer }
  | { id: number; digest: true }
  | { id: number; drop: true };
export type DigestReply = { id: number; digests: ArrayBuffer[] };

declare const self: Worker;

const hashes = new Map<number, Hash[]>();

self.onmessage = (event: MessageEvent<DigestMessage>) => {
  const message = event.data;
  if ("algorithms" in message) hashes.set(message.id, message.algorithms.map((algorithm) => createHash(algorithm)));
  else if ("data" in message) for (const hash of hashes.get(message.id) ?? []) hash.update(new Uint8Array(message.data));
  else {
    const done = hashes.get(message.id) ?? [];
    hashes.delete(message.id);
    if ("digest" in message) {
      const digests = done.map((hash) => Uint8Array.from(hash.digest()).buffer);
      self.postMessage({ id: message.id, digests } satisfies DigestReply, digests);
    }
  }
};
