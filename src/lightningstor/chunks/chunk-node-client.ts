import { fetchTls, type TrustedCa } from "../../http/client-tls.ts";
import { type BlockChecksums, wholeChecksum } from "../../util/checked-range.ts";
import { ChunkStoreFullError, type ChunkInfo } from "./chunk-store.ts";
import { sentToken, type TokenLike } from "../../util/token.ts";
import { NodeHealth } from "./node-health.ts";
import { BLOCKS_HEADER, CHAIN_HEADER, CHAIN_PROGRESS_HEADER, chainLine, type ChainLine, CRC_HEADER, formatCrc, listReply, parseBlocks, parseCrc, storedReply } from "./chunk-protocol.ts";

/** A storage node answered what the chunk API never answers, or did not answer at all. */
export class ChunkNodeError extends Error {
  constructor(
    readonly node: string,
    detail: string,
  ) {
    super(`${node}: ${detail}`);
    this.name = "ChunkNodeError";
  }
}

/** A copy as a node sends it: its bytes from `start` on, streamed, and the checksums it was stored with. */
export interface CopyReply {
  body: ReadableStream<Uint8Array>;
  crc32: number;
  /** Where the body starts in the copy: 0, or the block boundary a range was widened to. */
  start: number;
  blocks: BlockChecksums;
}

/** How long a storage node may take; past a deadline the call fails and the node is marked unhealthy. */
export interface NodeDeadlines {
  /** Until the answer's head, for calls whose body is streamed (GET), and for the whole of a small call (HEAD, DELETE). */
  answerMs: number;
  /** Between two pieces of a streamed copy, whichever way it goes, while the other side is waiting for it. */
  progressMs: number;
  /** For the whole of a call that moves a whole chunk or a listing at once (a buffered PUT, GET or list). */
  requestMs: number;
}

/** A chunk id never stored (ids are random), asked for by `probe`. */
const PROBE_ID = "00000000-0000-0000-0000-000000000000";

export const DEFAULT_DEADLINES: NodeDeadlines = { answerMs: 5_000, progressMs: 5_000, requestMs: 30_000 };

/**
 * The gateway's client for storage nodes' chunk API (`/v1/chunks`, cluster
 * token). Every reply is checked against the API's shape; a status the API
 * does not use, a malformed reply or no answer throws ChunkNodeError. Every
 * call has a deadline (NodeDeadlines); a node that misses one, or cannot be
 * reached, is marked in `health`.
 */
export class ChunkNodeClient {
  constructor(
    private readonly token: TokenLike,
    readonly deadlines: NodeDeadlines = DEFAULT_DEADLINES,
    readonly health = new NodeHealth(),
    /** The CA https:// nodes are verified against. */
    private readonly ca?: TrustedCa,
  ) {}

  /**
   * Stores a copy; bytes are sent with their CRC32, which the node checks. A
   * streamed body's pace is the caller's to watch: it aborts `signal` when the
   * node stops taking bytes or does not answer once they are all sent, and
   * marks the node in `health` itself (a body that failed on the sender's
   * side is not the node's fault).
   */
  async put(node: string, id: string, body: Uint8Array | ReadableStream<Uint8Array>, crc32?: number, signal?: AbortSignal): Promise<ChunkInfo> {
    const headers: Record<string, string> = crc32 === undefined ? {} : { [CRC_HEADER]: formatCrc(crc32) };
    const response = await this.call(node, "PUT", `/${id}`, { body, headers, ...(signal ? { signal, blame: false } : { deadlineMs: this.deadlines.requestMs }) });
    if (response.status === 507) throw new ChunkStoreFullError(id, `${node}: ${await response.text()}`);
    if (response.status !== 201) throw new ChunkNodeError(node, `PUT ${id}: status ${response.status}: ${await response.text()}`);
    const stored = storedReply.safeParse(await response.json().catch(() => undefined));
    if (!stored.success || stored.data.id !== id) throw new ChunkNodeError(node, `PUT ${id}: malformed reply`);
    return stored.data;
  }

  /**
   * Stores copies along `chain` (chain-hop.ts): the body, in frames
   * (chain-frames.ts), goes to the first node, which stores and forwards it.
   * Yields one line per node of the chain as its copy is fsynced or fails; a
   * node the reply never named is the caller's to count as failed. `signal`
   * ends the call at any time; the node is not marked (the caller knows whose
   * fault it was).
   */
  async *chain(chain: string[], id: string, body: ReadableStream<Uint8Array>, progressMs: number, signal: AbortSignal): AsyncGenerator<ChainLine> {
    const head = chain[0]!;
    const headers = { [CHAIN_HEADER]: chain.join(","), [CHAIN_PROGRESS_HEADER]: String(progressMs) };
    const response = await this.call(head, "PUT", `/${id}`, { body, headers, signal, blame: false });
    if (response.status !== 200 || !response.body) throw new ChunkNodeError(head, `chained PUT ${id}: status ${response.status}: ${await response.text()}`);
    let text = "";
    try {
      for await (const piece of response.body.pipeThrough(new TextDecoderStream())) {
        text += piece;
        const lines = text.split("\n");
        text = lines.pop()!;
        for (const line of lines.filter((l) => l !== "")) {
          const parsed = chainLine.safeParse(JSON.parse(line));
          if (!parsed.success) throw new Error(`malformed line ${line.slice(0, 200)}`);
          yield parsed.data;
        }
      }
    } catch (err) {
      throw new ChunkNodeError(head, `chained PUT ${id}: ${signal.aborted && signal.reason instanceof Error ? signal.reason.message : (err as Error).message}`);
    }
  }

  /**
   * A copy's bytes and checksums; undefined when the node has none. With
   * `range`, bytes [from, to) widened to whole blocks. `whole` reads it at
   * once (within `requestMs`); otherwise the body is read at the reader's
   * pace, and fails when the node leaves it waiting `progressMs` for a piece.
   */
  async get(node: string, id: string, options: { whole: boolean; range?: { from: number; to: number } }): Promise<CopyReply | undefined> {
    const { range } = options;
    const headers: Record<string, string> = range && range.to > range.from ? { range: `bytes=${range.from}-${range.to - 1}` } : {};
    const abort = new AbortController();
    const response = await this.call(node, "GET", `/${id}`, options.whole ? { headers, deadlineMs: this.deadlines.requestMs } : { headers, answerMs: this.deadlines.answerMs, signal: abort.signal });
    if (response.status === 404) {
      await response.body?.cancel();
      return undefined;
    }
    const crc32 = parseCrc(response.headers.get(CRC_HEADER) ?? "");
    const span = response.status === 206 ? /^bytes (\d+)-\d+\/(\d+)$/.exec(response.headers.get("content-range") ?? "") : undefined;
    const start = span ? Number(span[1]) : 0;
    const size = span ? Number(span[2]) : Number(response.headers.get("content-length"));
    const blocksHeader = response.headers.get(BLOCKS_HEADER);
    const blocks = blocksHeader === null ? crc32 !== undefined && wholeChecksum(size, crc32) : parseBlocks(blocksHeader, size);
    const valid = (response.status === 200 || span) && Number.isSafeInteger(size) && crc32 !== undefined && blocks && (start === 0 || start % blocks.blockSize === 0);
    if (!valid || !response.body) {
      await response.body?.cancel();
      throw new ChunkNodeError(node, `GET ${id}: status ${response.status}, malformed headers`);
    }
    const body = options.whole ? response.body : guardProgress(response.body, this.deadlines.progressMs, (err) => {
      this.health.failed(node);
      abort.abort(err);
    });
    return { body, crc32, start, blocks };
  }

  /** A copy's size and CRC32 without its bytes; undefined when the node has none. */
  async head(node: string, id: string): Promise<ChunkInfo | undefined> {
    const response = await this.call(node, "HEAD", `/${id}`, { deadlineMs: this.deadlines.answerMs });
    if (response.status === 404) return undefined;
    const size = Number(response.headers.get("content-length"));
    const crc32 = parseCrc(response.headers.get(CRC_HEADER) ?? "");
    if (response.status !== 200 || !Number.isSafeInteger(size) || crc32 === undefined) throw new ChunkNodeError(node, `HEAD ${id}: status ${response.status}, malformed headers`);
    return { id, size, crc32 };
  }

  /**
   * Asks the node for a chunk no one has, within `answerMs`: any answer of the
   * chunk API marks it healthy again, none keeps it marked.
   */
  async probe(node: string): Promise<void> {
    await this.head(node, PROBE_ID);
  }

  /** Deletes a copy; false when the node had none. */
  async delete(node: string, id: string): Promise<boolean> {
    const response = await this.call(node, "DELETE", `/${id}`, { deadlineMs: this.deadlines.answerMs });
    await response.body?.cancel();
    if (response.status === 204) return true;
    if (response.status === 404) return false;
    throw new ChunkNodeError(node, `DELETE ${id}: status ${response.status}`);
  }

  /** Every copy the node holds, with when it was written. */
  async list(node: string): Promise<{ id: string; writtenAt: Date }[]> {
    const response = await this.call(node, "GET", "", { deadlineMs: this.deadlines.requestMs });
    if (response.status !== 200) throw new ChunkNodeError(node, `GET /v1/chunks: status ${response.status}`);
    const listed = listReply.safeParse(await response.json().catch(() => undefined));
    if (!listed.success) throw new ChunkNodeError(node, "GET /v1/chunks: malformed reply");
    return listed.data.chunks.map((c) => ({ id: c.id, writtenAt: new Date(c.writtenAt) }));
  }

  /**
   * One request. `deadlineMs` bounds all of it, body included; `answerMs`
   * only until the answer's head (its body is then guarded by the caller);
   * `signal` ends it at any time. A failure marks the node in `health` unless
   * `blame` is false.
   */
  private async call(
    node: string,
    method: string,
    path: string,
    init: { body?: Uint8Array | ReadableStream<Uint8Array>; headers?: Record<string, string>; deadlineMs?: number; answerMs?: number; signal?: AbortSignal; blame?: boolean },
  ): Promise<Response> {
    const abort = new AbortController();
    const ms = init.deadlineMs ?? init.answerMs;
    const timer = ms === undefined ? undefined : setTimeout(() => abort.abort(new Error(`no answer within ${ms} ms`)), ms);
    timer?.unref();
    const { signal } = init;
    if (signal?.aborted) abort.abort(signal.reason);
    signal?.addEventListener("abort", () => abort.abort(signal.reason), { once: true });
    try {
      const response = await fetch(`${node}/v1/chunks${path}`, {
        method,
        body: init.body,
        headers: { authorization: `Bearer ${sentToken(this.token)}`, ...init.headers },
        signal: abort.signal,
        duplex: "half",
        ...fetchTls(this.ca),
      } as RequestInit);
      if (init.answerMs !== undefined) clearTimeout(timer);
      this.health.succeeded(node);
      return response;
    } catch (err) {
      clearTimeout(timer);
      if (init.blame !== false) this.health.failed(node);
      const reason = abort.signal.aborted && abort.signal.reason instanceof Error ? abort.signal.reason.message : (err as Error).message;
      throw new ChunkNodeError(node, `${method} /v1/chunks${path}: ${reason}`);
    }
  }
}

/**
 * `body` as a stream that fails, calling `stalled`, when a read waits more
 * than `progressMs` for the sender; time the reader takes does not count.
 */
function guardProgress(body: ReadableStream<Uint8Array>, progressMs: number, stalled: (err: Error) => void): ReadableStream<Uint8Array> {
  const reader = body.getReader();
  return new ReadableStream<Uint8Array>(
    {
      async pull(controller) {
        const timer = setTimeout(() => {
          const err = new Error(`no bytes for ${progressMs} ms`);
          controller.error(err);
          stalled(err);
          reader.cancel(err).catch(() => {}); // the stream already failed with `err`
        }, progressMs);
        try {
          const { done, value } = await reader.read();
          if (done) controller.close();
          else controller.enqueue(value);
        } catch (err) {
          controller.error(err);
        } finally {
          clearTimeout(timer);
        }
      },
      cancel: (reason) => reader.cancel(reason),
    },
    { highWaterMark: 0 },
  );
}
