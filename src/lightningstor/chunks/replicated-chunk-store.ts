import type { Logger } from "../../util/log.ts";
import { CRC_HEADER, formatCrc } from "./chunk-routes.ts";
import { assertChunkId, CHECK_HOLD_BYTES, ChunkCorruptError, ChunkUnavailableError, type ChunkInfo, type ChunkStore } from "./chunk-store.ts";

/** Bytes queued for one node before the sender waits for it. */
const COPY_QUEUE_BYTES = 1024 * 1024;

/** How a ReplicatedChunkStore places and acknowledges chunks. */
export interface ReplicationConfig {
  /** Base URLs of the storage nodes' admin APIs (agents), e.g. `http://10.0.0.2:7071`. */
  nodes: string[];
  /** Copies of each chunk (R). */
  replicas: number;
  /** Copies that must be fsynced before a put resolves (W). */
  writeQuorum: number;
  /** The cluster token the nodes' chunk API wants. */
  token: string;
  /** A request to a node that has not answered by then counts as failed. */
  timeoutMs?: number;
  /** How often chunks stored with fewer than R copies are completed. */
  repairIntervalMs?: number;
}

/**
 * Chunks replicated over storage nodes (agents serving `/v1/chunks`). Each
 * chunk goes to the first R nodes of its rendezvous-hashing order and a put
 * resolves once W of them have it fsynced. A get reads the nodes in that order,
 * checks each copy's CRC32, goes on to the next when one is missing, corrupt
 * or unreachable, and afterwards writes a good copy back to those of the first
 * R that lacked one or had a damaged one. A chunk acknowledged with fewer than
 * R copies is remembered and completed in the background once its nodes answer.
 */
export class ReplicatedChunkStore implements ChunkStore {
  private readonly timeoutMs: number;
  /** Chunks acknowledged with fewer than R copies. */
  private readonly underReplicated = new Set<string>();
  private readonly repairTimer: Timer;
  /** Copies (`node id`) found damaged and not rewritten yet: read last. */
  private readonly damaged = new Set<string>();
  private repairing = false;

  constructor(
    private readonly config: ReplicationConfig,
    private readonly log: Logger,
  ) {
    if (config.nodes.length === 0) throw new Error("replication needs at least one storage node");
    if (!(config.replicas >= 1 && config.replicas <= config.nodes.length)) throw new Error(`replicas must be between 1 and the number of storage nodes (${config.nodes.length})`);
    if (!(config.writeQuorum >= 1 && config.writeQuorum <= config.replicas)) throw new Error(`the write quorum must be between 1 and replicas (${config.replicas})`);
    this.timeoutMs = config.timeoutMs ?? 30_000;
    this.repairTimer = setInterval(() => void this.completeCopies(), config.repairIntervalMs ?? 1000);
    this.repairTimer.unref();
  }

  close(): void {
    clearInterval(this.repairTimer);
  }

  /** Every node, in the chunk's rendezvous-hashing order: the first R hold its copies. */
  placement(id: string): string[] {
    const score = (node: string) => Bun.hash.wyhash(`${node}\n${id}`);
    return [...this.config.nodes].sort((a, b) => (score(b) > score(a) ? 1 : score(b) < score(a) ? -1 : 0));
  }

  /**
   * Streams the chunk to its R nodes at once, each copy fed as fast as its node
   * takes it (the slowest sets the pace, a failed one drops out), and resolves
   * once W nodes have fsynced a copy whose CRC32 matches the bytes sent.
   */
  async put(id: string, data: AsyncIterable<Uint8Array> | Iterable<Uint8Array> | Uint8Array): Promise<ChunkInfo> {
    assertChunkId(id);
    const targets = this.placement(id).slice(0, this.config.replicas);
    const copies = targets.map(() => new CopyStream());
    const attempts = targets.map((node, i) => this.sendCopy(node, id, copies[i]!));
    let size = 0;
    let crc = 0;
    try {
      for await (const piece of data instanceof Uint8Array ? [data] : data) {
        size += piece.length;
        crc = Bun.hash.crc32(piece, crc);
        await Promise.all(copies.map((copy) => copy.push(piece)));
        // Too many nodes gone to reach the quorum: stop taking the client's bytes.
        const taking = copies.filter((copy) => !copy.stopped).length;
        if (taking < this.config.writeQuorum) throw new ChunkUnavailableError(id, `${taking} of ${targets.length} nodes take copies; ${this.config.writeQuorum} are needed`);
      }
    } catch (err) {
      for (const copy of copies) copy.fail(err as Error);
      await this.removeLanded(id, targets, attempts);
      throw err;
    }
    for (const copy of copies) copy.end();
    const info = { id, size, crc32: crc >>> 0 };
    // A copy counts once its node has it fsynced with the CRC32 of what was sent; a wrong one is removed.
    const checked = attempts.map((attempt, i) =>
      attempt.then(async (stored) => {
        if (stored.crc32 === info.crc32 && stored.size === size) return;
        await this.call(targets[i]!, "DELETE", id).catch(() => {});
        throw new Error(`the copy arrived with CRC32 ${formatCrc(stored.crc32)}, not ${formatCrc(info.crc32)}`);
      }),
    );
    try {
      await quorum(checked, this.config.writeQuorum, (failures) => new ChunkUnavailableError(id, `fewer than ${this.config.writeQuorum} copies stored (${failures.map((f, i) => `${targets[i]}: ${f}`).join("; ")})`));
    } catch (err) {
      // Not acknowledged: the copies this put did store are removed (a copy that was there before is not touched).
      await this.removeLanded(id, targets, attempts);
      throw err;
    }
    // Acknowledged: a copy that failed (before or after the quorum) is completed later.
    void Promise.allSettled(checked).then((results) => {
      const failed = results.flatMap((r, i) => (r.status === "rejected" ? [`${targets[i]}: ${String(r.reason)}`] : []));
      if (failed.length === 0) return;
      this.log.warn("a chunk was stored with fewer copies than asked; the rest follow when their nodes answer", { chunk: id, failed });
      this.underReplicated.add(id);
    });
    return info;
  }

  /**
   * Garbage collection: deletes, on every node that answers, the copies that
   * `isReferenced` does not know and that were written at least `minAgeMs`
   * ago — younger ones may belong to writes whose metadata is not committed
   * yet. Returns how many copies went.
   */
  async sweep(isReferenced: (id: string) => boolean, minAgeMs: number): Promise<number> {
    let removed = 0;
    for (const node of this.config.nodes) {
      try {
        const response = await fetch(`${node}/v1/chunks`, { headers: { authorization: `Bearer ${this.config.token}` }, signal: AbortSignal.timeout(this.timeoutMs) });
        if (!response.ok) throw new Error(`status ${response.status}`);
        const { chunks } = (await response.json()) as { chunks: { id: string; writtenAt: string }[] };
        const cutoff = Date.now() - minAgeMs;
        for (const { id } of chunks.filter((c) => !isReferenced(c.id) && Date.parse(c.writtenAt) <= cutoff)) {
          if ((await this.call(node, "DELETE", id)).status === 204) removed++;
        }
      } catch (err) {
        this.log.warn("could not collect garbage on a storage node; next time", { node, error: (err as Error).message });
      }
    }
    return removed;
  }

  /**
   * Anti-entropy: asks the placement nodes of each chunk whether they hold a
   * copy; a chunk missing one (a node lost it, or its scrub removed a damaged
   * one) is completed in the background like one stored short. Returns how
   * many chunks lacked a copy.
   */
  async checkCopies(ids: Iterable<string>): Promise<number> {
    let short = 0;
    for (const id of ids) {
      const { status } = await this.placementStatus(id);
      if (!status.includes(404)) continue;
      this.underReplicated.add(id);
      short++;
    }
    return short;
  }

  /** Deletes the copies that `attempts` stored. */
  private async removeLanded(id: string, targets: string[], attempts: Promise<unknown>[]): Promise<void> {
    const results = await Promise.allSettled(attempts);
    await Promise.allSettled(targets.filter((_, i) => results[i]!.status === "fulfilled").map((node) => this.call(node, "DELETE", id)));
  }

  /** One copy's PUT, its body streamed from `copy`; resolves with what the node stored. */
  private async sendCopy(node: string, id: string, copy: CopyStream): Promise<ChunkInfo> {
    try {
      const response = await this.call(node, "PUT", id, { body: copy.body, timeout: false });
      if (response.status !== 201) throw new Error(`status ${response.status}: ${await response.text()}`);
      return (await response.json()) as ChunkInfo;
    } finally {
      copy.stop(); // answered or failed: the node takes nothing more
    }
  }

  async get(id: string): Promise<Buffer | undefined> {
    assertChunkId(id);
    const { bytes, needRepair } = await this.readCopy(id);
    if (bytes && needRepair.length > 0) void this.repair(id, bytes, needRepair);
    return bytes;
  }

  /**
   * Streams bytes [from, to) of the first copy in placement order that a node
   * has, checking the CRC32 of the whole copy as it comes; the last
   * CHECK_HOLD_BYTES wait for the check. A copy that fails it ends the stream
   * with ChunkCorruptError (the client sees a short body and retries) and is
   * rewritten from an intact one, as are copies found missing on the way.
   */
  async *read(id: string, from: number, to: number): AsyncGenerator<Uint8Array> {
    assertChunkId(id);
    let missing = false;
    const placement = this.placement(id);
    const order = [...placement.filter((node) => !this.damaged.has(`${node} ${id}`)), ...placement.filter((node) => this.damaged.has(`${node} ${id}`))];
    for (const node of order) {
      const rank = placement.indexOf(node);
      const response = await this.call(node, "GET", id, { timeout: false }).catch((err: Error) => {
        this.log.warn("storage node unreachable; reading another copy", { chunk: id, node, error: err.message });
      });
      if (!response) continue;
      if (response.status === 404) {
        missing ||= rank < this.config.replicas;
        continue;
      }
      if (!response.ok || !response.body) {
        this.log.warn("storage node failed to send a copy; reading another", { chunk: id, node, status: response.status });
        continue;
      }
      const held: Uint8Array[] = [];
      let heldBytes = 0;
      let crc = 0;
      let at = 0;
      for await (const piece of response.body) {
        crc = Bun.hash.crc32(piece, crc);
        const start = Math.max(from - at, 0);
        const end = Math.min(to - at, piece.length);
        at += piece.length;
        if (end > start) {
          held.push(piece.subarray(start, end));
          heldBytes += end - start;
        }
        while (held.length > 0 && heldBytes - held[0]!.length >= CHECK_HOLD_BYTES) {
          const out = held.shift()!;
          heldBytes -= out.length;
          yield out;
        }
      }
      if (formatCrc(crc) !== response.headers.get(CRC_HEADER)) {
        this.log.warn("a chunk copy does not match its checksum; ending the response, rewriting the copy", { chunk: id, node });
        this.damaged.add(`${node} ${id}`);
        void this.get(id).catch(() => {}); // finds the damaged copy and rewrites it from an intact one
        throw new ChunkCorruptError(id, `the copy on ${node} does not match its checksum`);
      }
      if (missing) void this.get(id).catch(() => {}); // gives the copies found missing their bytes
      yield* held;
      return;
    }
    throw new ChunkUnavailableError(id, "no storage node has a copy");
  }

  /** The first intact copy in placement order, and which of the first R nodes lacked one or had a damaged one. */
  private async readCopy(id: string): Promise<{ bytes?: Buffer; needRepair: string[] }> {
    const needRepair: string[] = [];
    let corrupt = false;
    for (const [rank, node] of this.placement(id).entries()) {
      const copy = await this.getCopy(node, id).catch((err: Error) => {
        this.log.warn("storage node unreachable; reading another copy", { chunk: id, node, error: err.message });
        return "unreachable" as const;
      });
      if (copy === "unreachable") continue;
      if (copy === "missing" || copy === "corrupt") {
        if (copy === "corrupt") corrupt = true;
        if (rank < this.config.replicas) needRepair.push(node);
        continue;
      }
      return { bytes: copy, needRepair };
    }
    if (corrupt) throw new ChunkCorruptError(id, "no copy matches its checksum");
    return { needRepair };
  }

  async stat(id: string): Promise<ChunkInfo | undefined> {
    assertChunkId(id);
    for (const node of this.placement(id)) {
      const response = await this.call(node, "HEAD", id).catch(() => undefined);
      if (response?.ok) return { id, size: Number(response.headers.get("content-length")), crc32: Number.parseInt(response.headers.get(CRC_HEADER) ?? "", 16) };
    }
    return undefined;
  }

  /** Deletes every copy it can reach; a node that is down keeps its copy (garbage, not data loss). */
  async delete(id: string): Promise<boolean> {
    assertChunkId(id);
    this.underReplicated.delete(id);
    const results = await Promise.allSettled(this.config.nodes.map((node) => this.call(node, "DELETE", id)));
    for (const [i, result] of results.entries()) {
      if (result.status === "rejected") this.log.warn("could not delete a chunk copy", { chunk: id, node: this.config.nodes[i], error: String(result.reason) });
    }
    return results.some((r) => r.status === "fulfilled" && r.value.status === 204);
  }

  /**
   * Gives each under-replicated chunk its missing copies; a chunk whose nodes
   * do not all answer yet waits for the next round, and one is done once every
   * node of its placement has a copy.
   */
  private async completeCopies(): Promise<void> {
    if (this.repairing) return;
    this.repairing = true;
    try {
      for (const id of [...this.underReplicated]) {
        const { targets, status } = await this.placementStatus(id);
        const missing = targets.filter((_, i) => status[i] === 404);
        if (missing.length === 0) {
          if (status.every((code) => code === 200)) this.underReplicated.delete(id);
          continue;
        }
        const { bytes, needRepair } = await this.readCopy(id).catch(() => ({ bytes: undefined, needRepair: [] as string[] }));
        if (bytes) await this.repair(id, bytes, [...new Set([...missing, ...needRepair])]);
      }
    } finally {
      this.repairing = false;
    }
  }

  /** The chunk's first R nodes and what each answers to HEAD (0: no answer). */
  private async placementStatus(id: string): Promise<{ targets: string[]; status: number[] }> {
    const targets = this.placement(id).slice(0, this.config.replicas);
    const status = await Promise.all(targets.map((node) => this.call(node, "HEAD", id).then((r) => r.status, () => 0)));
    return { targets, status };
  }

  private async putCopy(node: string, info: ChunkInfo, bytes: Uint8Array): Promise<void> {
    const response = await this.call(node, "PUT", info.id, { body: bytes, headers: { [CRC_HEADER]: formatCrc(info.crc32) } });
    if (response.status !== 201) throw new Error(`status ${response.status}: ${await response.text()}`);
  }

  /** One node's copy, checked against the CRC32 it was stored with. */
  private async getCopy(node: string, id: string): Promise<Buffer | "missing" | "corrupt"> {
    const response = await this.call(node, "GET", id);
    if (response.status === 404) return "missing";
    if (!response.ok) throw new Error(`status ${response.status}`);
    const bytes = Buffer.from(await response.arrayBuffer());
    const crc32 = Bun.hash.crc32(bytes) >>> 0;
    if (formatCrc(crc32) === response.headers.get(CRC_HEADER)) return bytes;
    this.log.warn("a chunk copy does not match its checksum; reading another", { chunk: id, node });
    this.damaged.add(`${node} ${id}`);
    return "corrupt";
  }

  /** Writes a good copy to nodes that lacked one or had a damaged one. */
  private async repair(id: string, bytes: Buffer, nodes: string[]): Promise<void> {
    const info = { id, size: bytes.length, crc32: Bun.hash.crc32(bytes) >>> 0 };
    for (const node of nodes) {
      try {
        await this.call(node, "DELETE", id);
        await this.putCopy(node, info, bytes);
        this.damaged.delete(`${node} ${id}`);
        this.log.info("repaired a chunk copy", { chunk: id, node });
      } catch (err) {
        this.log.warn("could not repair a chunk copy", { chunk: id, node, error: (err as Error).message });
      }
    }
  }

  private call(node: string, method: string, id: string, init: { body?: Uint8Array | ReadableStream<Uint8Array>; headers?: Record<string, string>; timeout?: boolean } = {}): Promise<Response> {
    return fetch(`${node}/v1/chunks/${id}`, {
      method,
      body: init.body,
      headers: { authorization: `Bearer ${this.config.token}`, ...init.headers },
      // A streamed body takes as long as its sender; the connection's own errors end it.
      signal: init.timeout === false ? undefined : AbortSignal.timeout(this.timeoutMs),
      duplex: "half",
    } as RequestInit);
  }
}

/** Resolves once `needed` of the promises have; rejects once that can no longer happen, with `error(reasons)`. */
function quorum(promises: Promise<unknown>[], needed: number, error: (reasons: string[]) => Error): Promise<void> {
  return new Promise((resolve, reject) => {
    let done = 0;
    const reasons: string[] = new Array(promises.length).fill("pending");
    let failed = 0;
    for (const [i, promise] of promises.entries()) {
      promise.then(
        () => {
          reasons[i] = "stored";
          if (++done === needed) resolve();
        },
        (err: unknown) => {
          reasons[i] = err instanceof Error ? err.message : String(err);
          if (++failed === promises.length - needed + 1) reject(error(reasons));
        },
      );
    }
  });
}

/**
 * One copy's bytes on their way to a node: a request body fed piece by piece.
 * `push` waits while the node is behind; a copy that stopped (its node failed
 * or answered) takes nothing more and holds nobody up.
 */
class CopyStream {
  readonly body: ReadableStream<Uint8Array>;
  private controller!: ReadableStreamDefaultController<Uint8Array>;
  stopped = false;
  private demand?: () => void;

  constructor() {
    this.body = new ReadableStream<Uint8Array>(
      {
        start: (controller) => {
          this.controller = controller;
        },
        pull: () => this.wake(),
        cancel: () => this.stop(),
      },
      { highWaterMark: COPY_QUEUE_BYTES, size: (piece) => piece?.byteLength ?? 0 },
    );
  }

  async push(piece: Uint8Array): Promise<void> {
    if (this.stopped) return;
    this.controller.enqueue(piece);
    while (!this.stopped && (this.controller.desiredSize ?? 0) <= 0) await new Promise<void>((resolve) => (this.demand = resolve));
  }

  end(): void {
    if (!this.stopped) this.controller.close();
  }

  fail(err: Error): void {
    if (!this.stopped) this.controller.error(err);
    this.stop();
  }

  stop(): void {
    this.stopped = true;
    this.wake();
  }

  private wake(): void {
    const demand = this.demand;
    this.demand = undefined;
    demand?.();
  }
}
