import { FrameEncoder } from "./chain-frames.ts";
import type { ChunkNodeClient } from "./chunk-node-client.ts";
import { ChunkStoreFullError, type ChunkInfo } from "./chunk-store.ts";
import { CopyStream } from "./copy-stream.ts";

/**
 * How a put's bytes reach the R nodes of a chunk (replicated-chunk-store.ts
 * decides what to do with the answers): `attempts` holds, per target, what
 * that node stored, or why it did not.
 */
export interface CopySender {
  readonly attempts: Promise<ChunkInfo>[];
  /** Sends a piece; waits while the nodes are behind. */
  push(piece: Uint8Array): Promise<void>;
  /** Copies still taking bytes. */
  taking(): number;
  /** The sender failed (the client went away, or the quorum is lost): no copy completes. */
  fail(err: Error): void;
  /** Every byte was pushed. */
  end(): Promise<void>;
}

/**
 * `attempts` settle while the body is still being sent, before the put looks
 * at them (it counts them once every byte is out): each is marked handled here
 * so an early failure is not reported as an unhandled rejection — the put
 * reads every one of them, the failures included.
 */
function awaitedLater<T>(attempts: Promise<T>[]): Promise<T>[] {
  void Promise.allSettled(attempts); // observes each now; the put reads every outcome later
  return attempts;
}

/**
 * Fan-out: a PUT per target, each copy fed as fast as its node takes it (the
 * slowest sets the pace; one that fails, or takes nothing for `progressMs`,
 * drops out). A node is marked unhealthy when it failed, not when the sender
 * did (the client went away mid-body, or the quorum was lost elsewhere).
 * With `crc32` known up front (a repair), each node checks the bytes against
 * it and refuses a copy whose bytes differ.
 */
export function fanOutSender(client: ChunkNodeClient, id: string, targets: string[], crc32?: number): CopySender {
  const { progressMs, requestMs } = client.deadlines;
  const copies = targets.map((node) => {
    const abort = new AbortController();
    const copy = new CopyStream({ stallMs: progressMs, answerMs: requestMs, expired: (err) => abort.abort(err) });
    const attempt = (async () => {
      try {
        return await client.put(node, id, copy.body, crc32, abort.signal);
      } catch (err) {
        if (copy.expired || !copy.stopped) client.health.failed(node);
        throw err;
      } finally {
        copy.stop(); // answered or failed: the node takes nothing more
      }
    })();
    return { copy, attempt };
  });
  return {
    attempts: awaitedLater(copies.map((c) => c.attempt)),
    push: async (piece) => void (await Promise.all(copies.map(({ copy }) => copy.push(piece)))),
    taking: () => copies.filter(({ copy }) => !copy.stopped).length,
    fail: (err) => copies.forEach(({ copy }) => copy.fail(err)),
    end: async () => copies.forEach(({ copy }) => copy.end()),
  };
}

/**
 * Chain: the bytes go once, in frames (chain-frames.ts), to the first target,
 * which stores them and forwards them along the others (chain-hop.ts); each
 * node's line in the reply settles its attempt. The first hop's deadlines are
 * those of a node times the hops in the chain, so a node nearer a stalled one
 * drops it (and sends the copy on past it) before anyone drops the node that
 * waits for it. A first hop that fails takes every copy with it.
 */
export function chainSender(client: ChunkNodeClient, id: string, targets: string[]): CopySender {
  const { progressMs, requestMs } = client.deadlines;
  const hops = targets.length;
  const abort = new AbortController();
  const copy = new CopyStream({ stallMs: progressMs * hops, answerMs: requestMs * hops, expired: (err) => abort.abort(err) });
  const encoder = new FrameEncoder();
  const settled = targets.map(() => Promise.withResolvers<ChunkInfo>());
  const head = targets[0]!;
  void (async () => {
    let failure = "the chain's reply did not name this node";
    try {
      for await (const line of client.chain(targets, id, copy.body, progressMs, abort.signal)) {
        const at = targets.indexOf(line.node);
        if (at < 0) continue;
        if ("error" in line) settled[at]!.reject(line.full ? new ChunkStoreFullError(id, `${line.node}: ${line.error}`) : new Error(line.error));
        else settled[at]!.resolve({ id, size: line.size, crc32: line.crc32 });
        if (at > 0 && "error" in line) client.health.failed(line.node);
      }
    } catch (err) {
      if (copy.expired || !copy.stopped) client.health.failed(head);
      failure = (err as Error).message;
    } finally {
      copy.stop();
      for (const { reject } of settled) reject(new Error(failure)); // no-op for the settled ones
    }
  })();
  return {
    attempts: awaitedLater(settled.map((s) => s.promise)),
    push: async (piece) => {
      for (const frame of encoder.push(piece)) await copy.push(frame);
    },
    taking: () => (copy.stopped ? 0 : hops),
    fail: (err) => copy.fail(err),
    end: async () => {
      for (const frame of encoder.end()) await copy.push(frame);
      copy.end();
    },
  };
}
