import type { Logger } from "../../util/log.ts";
import { decodeFrames, encodeFrames, FrameError } from "./chain-frames.ts";
import { DEFAULT_DEADLINES, type ChunkNodeClient } from "./chunk-node-client.ts";
import type { ChainLine } from "./chunk-protocol.ts";
import { ChunkStoreFullError } from "./chunk-store.ts";
import { CopyStream } from "./copy-stream.ts";
import type { LocalChunkStore } from "./local-chunk-store.ts";

/** What a storage node needs to take part in chained PUTs. */
export interface ChainHopContext {
  store: LocalChunkStore;
  /** The node's client for the next hop, with the cluster token. */
  client: ChunkNodeClient;
  log: Logger;
}

/**
 * One hop of a chained PUT, on the storage node `chain[0]`: each frame of the
 * body is checked against its CRC32, then forwarded to `chain[1]` (which does
 * the same with the rest of the chain) and written to the local copy, so the
 * bytes leave the gateway once. Resolves, once the body is in and the local
 * copy fsynced (or failed), with the reply: one NDJSON line per node of the
 * chain, this node's first, the others' relayed as they come.
 *
 * A next hop that fails or stalls while the body streams is dropped; once the
 * local copy is whole it is sent from here to the hops after it (the failed
 * one gets an error line, and the gateway queues it for repair). A damaged or
 * malformed body throws FrameError: nothing is stored, and the next hop's body
 * is failed, so it stores nothing either.
 */
export async function chainHop(context: ChainHopContext, id: string, chain: string[], progressMs: number, body: AsyncIterable<Uint8Array>): Promise<ReadableStream<Uint8Array>> {
  const [self, ...next] = chain as [string, ...string[]];
  const reply = new ChainReply(chain);
  const downstream = next.length > 0 ? new NextHop(context.client, id, next, progressMs, reply) : undefined;
  async function* verified(): AsyncGenerator<Uint8Array> {
    for await (const frame of decodeFrames(body)) {
      // Forwarded as one piece (one write on the socket), once checked.
      if (downstream) await downstream.copy.push(Buffer.concat([frame.header, ...frame.parts]));
      yield* frame.parts;
    }
    downstream?.copy.end();
  }
  const existing = await context.store.stat(id);
  try {
    if (existing) {
      // A retried or bypassed hop: the copy is here already; the bytes still go on.
      let size = 0;
      for await (const part of verified()) size += part.length;
      reply.add(size === existing.size ? { node: self, size, crc32: existing.crc32 } : { node: self, error: `a different copy of ${id} is stored here` });
    } else {
      const info = await context.store.put(id, verified());
      reply.add({ node: self, size: info.size, crc32: info.crc32 });
    }
  } catch (err) {
    downstream?.copy.fail(err as Error);
    if (err instanceof FrameError || (err as Error).name === "AbortError") throw err;
    reply.add({ node: self, error: `storing the copy failed: ${(err as Error).message}`, ...(err instanceof ChunkStoreFullError ? { full: true } : {}) });
  }
  void settle(context, id, self, downstream, reply);
  return reply.body;
}

/** Waits for the next hop's lines, bypasses it when it dropped out mid-body, then ends the reply. */
async function settle(context: ChainHopContext, id: string, self: string, downstream: NextHop | undefined, reply: ChainReply): Promise<void> {
  try {
    if (!downstream) return;
    await downstream.done;
    const [failed, ...after] = downstream.chain;
    if (!downstream.droppedMidBody || after.length === 0 || !reply.stored(self)) return;
    context.log.warn("a storage node dropped out of a chained PUT; sending the copy on past it", { chunk: id, node: failed, next: after });
    const bytes = await context.store.get(id);
    if (!bytes) return;
    const bypass = new NextHop(context.client, id, after, Number(downstream.progressMs), reply);
    for (const piece of encodeFrames(bytes)) await bypass.copy.push(piece);
    bypass.copy.end();
    await bypass.done;
  } catch (err) {
    context.log.warn("a chained PUT could not reach the nodes after this one", { chunk: id, err });
  } finally {
    reply.close();
  }
}

/**
 * The PUT to the next hop (the rest of the chain), its body fed through
 * `copy`: a hop that takes no bytes for `progressMs` per hop still to go (so
 * the hop nearest the failure notices first), or does not answer within the
 * request deadline per hop, is aborted. Its lines go to `reply`; a failure is
 * the first hop's line.
 */
class NextHop {
  readonly copy: CopyStream;
  readonly done: Promise<void>;
  droppedMidBody = false;

  constructor(
    client: ChunkNodeClient,
    id: string,
    readonly chain: string[],
    readonly progressMs: number,
    reply: ChainReply,
  ) {
    const abort = new AbortController();
    const hops = chain.length;
    const copy = new CopyStream({ stallMs: progressMs * hops, answerMs: DEFAULT_DEADLINES.requestMs * hops, expired: (err) => abort.abort(err) });
    this.copy = copy;
    this.done = (async () => {
      try {
        for await (const line of client.chain(chain, id, copy.body, progressMs, abort.signal)) reply.add(line);
      } catch (err) {
        this.droppedMidBody = !copy.closed;
        reply.add({ node: chain[0]!, error: (err as Error).message });
      } finally {
        copy.stop();
      }
    })();
  }
}

/** A chained PUT's reply: one line per node of the chain (the first word on each counts), ended with an error line for each node never heard from. */
class ChainReply {
  readonly body: ReadableStream<Uint8Array>;
  private controller!: ReadableStreamDefaultController<Uint8Array>;
  private readonly lines = new Map<string, ChainLine>();

  constructor(private readonly chain: string[]) {
    this.body = new ReadableStream<Uint8Array>({ start: (controller) => void (this.controller = controller) });
  }

  add(line: ChainLine): void {
    if (!this.chain.includes(line.node) || this.lines.has(line.node)) return;
    this.lines.set(line.node, line);
    this.controller.enqueue(Buffer.from(`${JSON.stringify(line)}\n`));
  }

  stored(node: string): boolean {
    const line = this.lines.get(node);
    return line !== undefined && !("error" in line);
  }

  close(): void {
    for (const node of this.chain) this.add({ node, error: "no answer from this node" });
    this.controller.close();
  }
}
