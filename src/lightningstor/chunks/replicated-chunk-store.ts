import type { TokenLike } from "../../util/token.ts";
import type { TrustedCa } from "../../http/client-tls.ts";
import type { Logger } from "../../util/log.ts";
import { ChunkNodeClient, DEFAULT_DEADLINES, type NodeDeadlines } from "./chunk-node-client.ts";
import { IssuedIds } from "./issued-ids.ts";
import { formatCrc } from "./chunk-protocol.ts";
import { assertChunkId, ChunkStoreFullError, ChunkUnavailableError, type ChunkInfo, type ChunkStore, type ChunkStreamRange } from "./chunk-store.ts";
import { modeFor, type ReplicationMode } from "./chain-mode.ts";
import { noFindings, readWholeCopy, streamCopies, type CopyReadContext, type ReadFindings } from "./copy-reader.ts";
import { chainSender, fanOutSender } from "./copy-senders.ts";
import { placeable, staticMembership, type Membership } from "./membership.ts";
import { placeCopies, rendezvous } from "./placement.ts";
import { quorum } from "./quorum.ts";
import { MemoryRepairQueue, type RepairQueue } from "./repair-queue.ts";
import type { RepairThrottle } from "./repair-throttle.ts";
import { ReplicationFailures } from "./replication-failures.ts";

/** How `read` goes. */
interface ReadOptions {
  /** Nodes not read from: their copy is being rewritten. */
  skip?: readonly string[];
  /** Takes what the read met (copy-reader.ts): the caller repairs the copies found lacking, not the read. */
  found?: ReadFindings;
}

/** How a ReplicatedChunkStore places and acknowledges chunks. */
export interface ReplicationConfig {
  /** Base URLs of the storage nodes' admin APIs (agents), e.g. `http://10.0.0.2:7071`: a fixed membership. */
  nodes?: string[];
  /** The storage nodes as they come and go (the controller's); takes the place of `nodes`. */
  membership?: Membership;
  /** Copies of each chunk (R). */
  replicas: number;
  /** Copies that must be fsynced before a put resolves (W). */
  writeQuorum: number;
  /** The cluster token the nodes' chunk API wants. */
  token: TokenLike;
  /** How long a node may take before it is passed over (chunk-node-client.ts). */
  deadlines?: Partial<NodeDeadlines>;
  /** The gateway's id, carried by the ids of the chunks it writes (chunk-ids.ts, gc.ts). */
  owner?: string;
  /** The CA https:// nodes are verified against. */
  ca?: TrustedCa;
  /** How copies reach the nodes (chain-mode.ts; default fan-out). */
  mode?: ReplicationMode;
}

/**
 * Chunks replicated over storage nodes (agents serving `/v1/chunks`): the
 * quorum write and the failover read. Each chunk goes to its R target nodes
 * (placement.ts, over the membership's nodes) and a put resolves once W of them have
 * it fsynced. A read goes through the nodes in `readOrder`, checks each copy's
 * CRC32 block by block, goes on to the next when one is missing, corrupt or
 * unreachable, and afterwards writes a good copy back to those of the targets
 * that lacked one or had a damaged one. Every repair goes through `copy`,
 * which streams a chunk from its copies to the nodes that need one, holding
 * none of it whole. Chunks acknowledged short of R copies, and copies a
 * repair could not rewrite, go into `queue` (durable in the gateway) for
 * ChunkUpkeep (upkeep.ts) to complete; this class starts no timer.
 */
export class ReplicatedChunkStore implements ChunkStore {
  readonly client: ChunkNodeClient;
  /** Copies (`node id`) found damaged and not rewritten yet: read last. */
  private readonly damaged = new Set<string>();
  /** What the readers of copies use (copy-reader.ts). */
  private readonly reading: CopyReadContext;
  /** Ids this process made: writes that may still be under way (`writing`). */
  private readonly issued: IssuedIds;
  readonly membership: Membership;
  /** Chunks upkeep or a rebalance pass is completing now: one at a time per chunk. */
  private readonly claimed = new Set<string>();

  constructor(
    private readonly config: ReplicationConfig,
    private readonly log: Logger,
    readonly failures = new ReplicationFailures(log),
    /** Chunks known to lack some of their R copies: upkeep completes them. */
    readonly queue: RepairQueue = new MemoryRepairQueue(),
  ) {
    const fixed = config.nodes ?? [];
    if (!config.membership && fixed.length === 0) throw new Error("replication needs at least one storage node");
    if (!(config.replicas >= 1 && (config.membership || config.replicas <= fixed.length))) throw new Error(`replicas must be between 1 and the number of storage nodes (${fixed.length})`);
    if (!(config.writeQuorum >= 1 && config.writeQuorum <= config.replicas)) throw new Error(`the write quorum must be between 1 and replicas (${config.replicas})`);
    this.client = new ChunkNodeClient(config.token, { ...DEFAULT_DEADLINES, ...config.deadlines }, undefined, config.ca);
    this.membership = config.membership ?? staticMembership(fixed);
    this.reading = { client: this.client, failures, damaged: this.damaged };
    this.issued = new IssuedIds(config.owner);
  }

  /** Every storage node known, whatever its state. */
  get nodes(): string[] {
    return this.membership.nodes().map((node) => node.id);
  }

  /** The gateway that writes through this store, if it has an id. */
  get owner(): string | undefined {
    return this.config.owner;
  }

  /** An id naming this gateway, so that only it ever collects the chunk (gc.ts); remembered as a write under way. */
  newId(): string {
    return this.issued.next();
  }

  /** Whether the chunk may belong to a write of this process not committed yet (issued-ids.ts). */
  writing(id: string, isReferenced: (id: string) => boolean): boolean {
    return this.issued.writing(id, isReferenced);
  }

  /** Whether a write this process began before `time` may still be under way: it was placed by the storage nodes as they were then. */
  writingBefore(time: number, isReferenced: (id: string) => boolean): boolean {
    return this.issued.writingBefore(time, isReferenced);
  }

  get replicas(): number {
    return this.config.replicas;
  }

  /** W nodes that may take copies, up and not passed over after a failed call. */
  writable(): boolean {
    const candidates = placeable(this.membership.nodes()).filter((node) => node.state === "up");
    const unhealthy = new Set(this.client.health.unhealthy(candidates.map((node) => node.id)));
    return candidates.filter((node) => !unhealthy.has(node.id)).length >= this.config.writeQuorum;
  }

  /** The R nodes a chunk's copies belong on (placement.ts): neither lost nor drained, weighted by capacity, spread over zones. */
  targets(id: string): string[] {
    return placeCopies(placeable(this.membership.nodes()), id, this.config.replicas);
  }

  /**
   * Where to look for a chunk's copies: its targets, then every other node
   * known in rendezvous order — copies placed before a node joined, left,
   * was drained or lost (or by a gateway with a `--storage-nodes` list) are
   * found there until upkeep moves them (rebalance.ts). Nodes the controller
   * reports down or lost come last.
   */
  readOrder(id: string): string[] {
    const nodes = this.membership.nodes();
    const targets = this.targets(id);
    const others = rendezvous(nodes, id).filter((node) => !targets.includes(node.id));
    const byId = new Map(nodes.map((node) => [node.id, node]));
    const order = [...targets, ...others.map((node) => node.id)];
    return [...order.filter((node) => byId.get(node)?.state === "up"), ...order.filter((node) => byId.get(node)?.state !== "up")];
  }

  /** Takes a chunk for repair; false when another repair has it. Give it back with `release`. */
  claim(id: string): boolean {
    if (this.claimed.has(id)) return false;
    this.claimed.add(id);
    return true;
  }

  release(id: string): void {
    this.claimed.delete(id);
  }

  /** Whether a node is worth a write now: up by the controller and no failed call recently. */
  private usable(node: string): boolean {
    const known = this.membership.nodes().find((n) => n.id === node);
    return known?.state === "up" && this.client.health.healthy(node);
  }

  /**
   * Sends the chunk to its R nodes as it arrives — fanned out from here, or
   * once along a chain of them (copy-senders.ts; `mode`, chain-mode.ts) — and
   * resolves once W nodes have fsynced a copy whose CRC32 matches the bytes
   * sent. Nodes that failed a call recently are skipped while the others can
   * make the quorum; their copies follow in upkeep, as do those of nodes that
   * fail now.
   */
  async put(id: string, data: AsyncIterable<Uint8Array> | Iterable<Uint8Array> | Uint8Array): Promise<ChunkInfo> {
    assertChunkId(id);
    const placed = this.targets(id);
    if (placed.length < this.config.writeQuorum) throw new ChunkUnavailableError(id, `${placed.length} storage nodes take copies; ${this.config.writeQuorum} are needed`);
    const healthy = placed.filter((node) => this.usable(node));
    const targets = healthy.length >= this.config.writeQuorum ? healthy : placed;
    if (targets.length < this.config.replicas) this.queue.add(id, "short");
    const sender = modeFor(this.config.mode ?? "fanout", targets) === "chain" ? chainSender(this.client, id, targets) : fanOutSender(this.client, id, targets);
    const { attempts } = sender;
    // Copies refused for lack of space: when they alone leave the quorum short, the error says so (507, not retried).
    let full = 0;
    for (const attempt of attempts) attempt.catch((err: unknown) => void (err instanceof ChunkStoreFullError && full++));
    const noRoom = (err: unknown) => (full > targets.length - this.config.writeQuorum ? new ChunkStoreFullError(id, `${full} of ${targets.length} storage nodes are full`) : err);
    let size = 0;
    let crc = 0;
    try {
      for await (const piece of data instanceof Uint8Array ? [data] : data) {
        size += piece.length;
        crc = Bun.hash.crc32(piece, crc);
        await sender.push(piece);
        // Too many nodes gone to reach the quorum: stop taking the client's bytes.
        const taking = sender.taking();
        if (taking < this.config.writeQuorum) throw new ChunkUnavailableError(id, `${taking} of ${targets.length} nodes take copies; ${this.config.writeQuorum} are needed`);
      }
      await sender.end();
    } catch (err) {
      sender.fail(err as Error);
      await this.removeLanded(id, targets, attempts);
      throw noRoom(err);
    }
    const info = { id, size, crc32: crc >>> 0 };
    // A copy counts once its node has it fsynced with the CRC32 of what was sent; a wrong one is removed.
    const checked = attempts.map((attempt, i) =>
      attempt.then(async (stored) => {
        if (stored.crc32 === info.crc32 && stored.size === size) return;
        await this.discard(targets[i]!, id);
        throw new Error(`the copy arrived with CRC32 ${formatCrc(stored.crc32)}, not ${formatCrc(info.crc32)}`);
      }),
    );
    try {
      await quorum(checked, this.config.writeQuorum, (failures) => new ChunkUnavailableError(id, `fewer than ${this.config.writeQuorum} copies stored (${failures.map((f, i) => `${targets[i]}: ${f}`).join("; ")})`));
    } catch (err) {
      // Not acknowledged: the copies this put did store are removed (a copy that was there before is not touched).
      await this.removeLanded(id, targets, attempts);
      throw noRoom(err);
    }
    // Acknowledged: a copy that failed (before or after the quorum) is completed later.
    void Promise.allSettled(checked).then((results) => {
      const failed = results.flatMap((r, i) => (r.status === "rejected" ? [`${targets[i]}: ${String(r.reason)}`] : []));
      if (failed.length === 0) return;
      this.log.warn("a chunk was stored with fewer copies than asked; the rest follow when their nodes answer", { chunk: id, failed });
      this.queue.add(id, "short");
    });
    return info;
  }

  /** Deletes the copies that `attempts` stored. */
  private async removeLanded(id: string, targets: string[], attempts: Promise<unknown>[]): Promise<void> {
    const results = await Promise.allSettled(attempts);
    this.issued.forget(id); // the write was given up
    await Promise.all(targets.filter((_, i) => results[i]!.status === "fulfilled").map((node) => this.discard(node, id)));
  }

  /** Deletes one copy; one that cannot be deleted is garbage for the collection, reported here. */
  private async discard(node: string, id: string): Promise<void> {
    try {
      await this.client.delete(node, id);
    } catch (err) {
      this.failures.report("delete", "could not delete a chunk copy; garbage collection removes it later", { node, chunk: id }, err);
    }
  }

  async get(id: string): Promise<Buffer | undefined> {
    assertChunkId(id);
    const { bytes, needRepair } = await this.readIntact(id);
    if (bytes && needRepair.length > 0) this.readRepair(id, needRepair);
    return bytes;
  }

  /** Always a stream; it reaches the nodes only once read. */
  async open(id: string, from: number, to: number): Promise<ChunkStreamRange> {
    assertChunkId(id);
    return { kind: "stream", length: to - from, pieces: this.read(id, from, to) };
  }

  /**
   * Bytes [from, to), each block checked, from the copies in read order less
   * `options.skip` (copy-reader.ts). The target nodes found without a copy or
   * with a damaged one go into `options.found` when given (the caller repairs
   * them); otherwise they are rewritten once the read is through.
   */
  private async *read(id: string, from: number, to: number, options: ReadOptions = {}): AsyncGenerator<Uint8Array> {
    const found = options.found ?? noFindings();
    const order = this.readOrder(id).filter((node) => !options.skip?.includes(node));
    yield* streamCopies(this.reading, id, { order, targets: this.targets(id) }, from, to, found);
    if (!options.found && found.lacking.size > 0) this.readRepair(id, [...found.lacking]);
  }

  /** Rewrites in the background (`copy`) the copies a read found lacking; a chunk another repair holds is queued. */
  private readRepair(id: string, nodes: string[]): void {
    if (!this.claim(id)) {
      this.queue.add(id, "missing");
      return;
    }
    void this.copy(id, nodes)
      .catch((err: unknown) => this.failures.report("repair", "could not repair a chunk's copies after a read; trying again later", { chunk: id }, err))
      .finally(() => this.release(id));
  }

  /**
   * Copies a chunk onto `nodes` as it streams from the other copies, never
   * holding it whole: its size and CRC32 from `stat`, its bytes from `read`
   * (each block checked, switching copies mid-chunk) fanned out to the nodes
   * (copy-senders.ts), each told the CRC32 to check. `throttle` paces it:
   * size × nodes bytes are taken before a byte goes. A node's old copy is
   * deleted first (a node refuses a PUT over one); a copy that arrives
   * different is discarded; each failure is reported and queued for upkeep.
   * Nodes without a copy get theirs in a first pass. Damaged copies (among
   * `nodes`, met by that pass, or known from earlier reads) and targets found
   * without one follow in a second pass, which deletes a damaged copy only
   * once the chunk is known whole without it: a new copy was written, or the
   * first pass took none of its bytes (other blocks of it may be the only
   * intact ones left). Resolves with the copies written and whether all were.
   */
  async copy(id: string, nodes: string[], throttle?: RepairThrottle): Promise<{ written: number; complete: boolean }> {
    const info = await this.stat(id);
    if (!info) {
      this.failures.report("unreadable", "no storage node sent a copy to repair a chunk from; trying again", { chunk: id });
      return { written: 0, complete: false };
    }
    const isDamaged = (node: string) => this.damaged.has(`${node} ${id}`);
    const fresh = nodes.filter((node) => !isDamaged(node));
    const found = noFindings();
    const first = await this.streamTo(id, info, fresh, found, throttle);
    if (!first.read) return { written: first.written, complete: false };
    const rest = [...new Set([...nodes, ...found.lacking, ...this.targets(id).filter(isDamaged)])].filter((node) => !fresh.includes(node));
    const wholeWithout = first.written > 0 || ![...found.used].some(isDamaged);
    const kept = wholeWithout ? [] : rest.filter(isDamaged);
    for (const node of kept) this.failures.report("repair", "kept a damaged chunk copy: the read needed some of its blocks; trying again later", { node, chunk: id });
    const to = rest.filter((node) => !kept.includes(node));
    const second = to.length > 0 ? await this.streamTo(id, info, to, noFindings(), throttle) : { written: 0, failed: 0, read: true };
    const complete = first.failed + second.failed + kept.length === 0 && second.read;
    if (complete) this.failures.resolved(id);
    return { written: first.written + second.written, complete };
  }

  /** One pass of `copy`: the chunk streamed to `nodes` from the other copies; whether it could be read through. */
  private async streamTo(id: string, info: ChunkInfo, nodes: string[], found: ReadFindings, throttle?: RepairThrottle): Promise<{ written: number; failed: number; read: boolean }> {
    await throttle?.take(info.size * nodes.length);
    const cleared = await Promise.all(nodes.map((node) => this.client.delete(node, id).then(() => node, (err: unknown) => void this.repairFailed(id, node, err))));
    const ready = cleared.filter((node) => node !== undefined);
    const sender = fanOutSender(this.client, id, ready, info.crc32);
    let unread: unknown;
    try {
      for await (const piece of this.read(id, 0, info.size, { skip: nodes, found })) await sender.push(piece);
      await sender.end();
    } catch (err) {
      unread = err;
      sender.fail(err as Error);
      this.failures.report("unreadable", "could not read a chunk through to copy it; trying again later", { chunk: id }, err);
    }
    const results = await Promise.allSettled(sender.attempts);
    let written = 0;
    for (const [i, node] of ready.entries()) {
      const result = results[i]!;
      const stored = result.status === "fulfilled" ? result.value : undefined;
      const wrong = stored && (stored.crc32 !== info.crc32 || stored.size !== info.size) ? new Error(`the copy arrived with CRC32 ${formatCrc(stored.crc32)}, not ${formatCrc(info.crc32)}`) : undefined;
      const err: unknown = unread ?? (result.status === "rejected" ? result.reason : wrong);
      if (err === undefined) {
        this.repaired(id, node);
        written++;
        continue;
      }
      if (stored) await this.discard(node, id);
      this.repairFailed(id, node, err);
    }
    return { written, failed: nodes.length - written, read: unread === undefined };
  }

  /** The first copy read whole that matches its CRC32, and the targets that lacked one or had a damaged one (copy-reader.ts). */
  readIntact(id: string): Promise<{ bytes?: Buffer; needRepair: string[] }> {
    return readWholeCopy(this.reading, id, { order: this.readOrder(id), targets: this.targets(id) });
  }

  private repaired(id: string, node: string): void {
    this.damaged.delete(`${node} ${id}`);
    this.log.info("repaired a chunk copy", { chunk: id, node });
  }

  /** A copy not rewritten: upkeep tries again, after a restart too. */
  private repairFailed(id: string, node: string, err: unknown): void {
    this.queue.add(id, "missing");
    this.failures.report("repair", "could not repair a chunk copy; trying again later", { node, chunk: id }, err);
  }

  async stat(id: string): Promise<ChunkInfo | undefined> {
    assertChunkId(id);
    for (const node of this.client.health.healthyFirst(this.readOrder(id))) {
      try {
        const info = await this.client.head(node, id);
        if (info) return info;
      } catch (err) {
        this.failures.report("unreachable", "storage node did not answer for a copy; asking another", { node, chunk: id }, err);
      }
    }
    return undefined;
  }

  /**
   * Deletes every copy it can reach; a node that is down keeps its copy
   * (garbage for the collection, not data loss). Nodes that failed a call
   * recently, or that the controller reports down or lost, are asked too,
   * but not waited for.
   */
  async delete(id: string): Promise<boolean> {
    assertChunkId(id);
    this.queue.remove(id);
    this.issued.forget(id); // a write given up, or an object deleted
    const nodes = this.nodes;
    const deletes = nodes.map((node) =>
      this.client.delete(node, id).catch((err: unknown) => {
        this.failures.report("delete", "could not delete a chunk copy; garbage collection removes it later", { node, chunk: id }, err);
        return false;
      }),
    );
    const waited = await Promise.all(deletes.filter((_, i) => this.usable(nodes[i]!)));
    return waited.some(Boolean);
  }
}
