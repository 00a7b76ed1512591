import type { Logger } from "../../util/log.ts";
import type { RepairThrottle } from "./repair-throttle.ts";
import type { ReplicatedChunkStore } from "./replicated-chunk-store.ts";

/** What one rebalance pass found and did. */
export interface RebalanceStats {
  startedAt: string;
  finishedAt?: string;
  /** Referenced chunks looked at. */
  chunks: number;
  /** Chunks with fewer than R copies on their target nodes when the pass saw them. */
  underReplicated: number;
  /** Of those, chunks not in the repair queue whose missing copy belongs on a node that is down (within its grace period): it gets it when it returns, or the copy goes elsewhere once the node is lost. */
  waiting: number;
  /** Copies written to targets that lacked them. */
  copied: number;
  /** Copies on nodes that are not among their chunk's targets (lost, drained, or displaced by a join). */
  misplaced: number;
  /** Misplaced copies removed once every target held one. */
  removed: number;
  /** Referenced chunks no node that answered holds a copy of. */
  unreadable: number;
  /** Copies no object or part references: garbage collection's to remove. */
  unreferenced: number;
  /** Storage nodes that are up but could not be listed. */
  unlisted: number;
  /** Chunks left for the next pass: being completed by upkeep meanwhile, or a copy could not be written. */
  deferred: number;
}

/** How ChunkRebalance works. */
export interface RebalanceOptions {
  /** Every chunk id the gateway's metadata references. */
  referenced: () => Promise<ReadonlySet<string>>;
  throttle: RepairThrottle;
  /** Chunks worked on at once (default 2). */
  concurrency?: number;
  /** A pass runs at start, after each trigger, and this long after the last one (default hourly). */
  everyMs?: number;
  /** After a pass that left chunks for later, or while writes placed before the last trigger may still land, the next one comes this soon (default 10 s). */
  retryMs?: number;
}

/**
 * Brings every referenced chunk to R copies on its target nodes and takes
 * copies off the nodes that are no longer targets: the pass that heals a
 * lost node, empties a drained one, fills a node that joined or returned and
 * removes the extra copies made while it was away. It lists each node that is
 * up (one call per node, not per chunk), then per chunk copies from an intact
 * copy to the targets that lack one (paced by the RepairThrottle, `concurrency`
 * chunks at once) and, only once every target holds a copy, deletes the
 * copies elsewhere, and takes the chunk out of the repair queue. A chunk
 * ChunkUpkeep is completing now waits for the next pass; a copy that cannot
 * be written goes into the repair queue.
 */
export class ChunkRebalance {
  /** The last finished pass, and the one running now. */
  last?: RebalanceStats;
  current?: RebalanceStats;
  private again = false;
  /** When the last pass was asked for (the storage nodes changed): writes placed before may land on nodes that are no longer their targets. */
  private triggeredAt = 0;
  /**
   * Whether the last pass began while writes placed before the trigger were
   * under way: a PUT that began before a drain or a join streams to the
   * targets of then, and its chunk is referenced only once its object
   * commits, after the pass looked. Passes come again (every `retryMs`, for at
   * most `everyMs`) until a pass sees no such write.
   */
  private unseenWrites = false;
  private wake?: () => void;
  private readonly waiters: ((stats: RebalanceStats) => void)[] = [];

  constructor(
    private readonly store: ReplicatedChunkStore,
    private readonly log: Logger,
    private readonly options: RebalanceOptions,
  ) {}

  /** Asks for a pass now (after the one running, if any); resolves with that pass's stats. */
  trigger(): Promise<RebalanceStats> {
    this.again = true;
    this.triggeredAt = Date.now();
    this.wake?.();
    return new Promise((resolve) => this.waiters.push(resolve));
  }

  /** Runs a pass at start, then after each trigger and every `everyMs`, until `signal` aborts. */
  async run(signal: AbortSignal): Promise<void> {
    const everyMs = this.options.everyMs ?? 60 * 60 * 1000;
    let wait = 0;
    this.again = true;
    while (!signal.aborted) {
      if (!this.again) await this.sleep(wait, signal);
      if (signal.aborted) break;
      this.again = false;
      const waiters = this.waiters.splice(0);
      const stats = await this.pass(signal);
      for (const resolve of waiters) resolve(stats);
      const soon = stats.deferred > 0 || (this.unseenWrites && Date.now() - this.triggeredAt < everyMs);
      wait = soon ? (this.options.retryMs ?? 10_000) : everyMs;
    }
  }

  private sleep(ms: number, signal: AbortSignal): Promise<void> {
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        signal.removeEventListener("abort", done);
        this.wake = undefined;
        resolve();
      };
      const timer = setTimeout(done, ms);
      signal.addEventListener("abort", done, { once: true });
      this.wake = done;
    });
  }

  /** One pass over every referenced chunk (see the class). */
  async pass(signal: AbortSignal = new AbortController().signal): Promise<RebalanceStats> {
    const stats: RebalanceStats = { startedAt: new Date().toISOString(), chunks: 0, underReplicated: 0, waiting: 0, copied: 0, misplaced: 0, removed: 0, unreadable: 0, unreferenced: 0, unlisted: 0, deferred: 0 };
    this.current = stats;
    try {
      const referenced = await this.options.referenced();
      this.unseenWrites = this.store.writingBefore(this.triggeredAt, (id) => referenced.has(id));
      const { holders, listed } = await this.listNodes(referenced, stats);
      const ids = [...referenced][Symbol.iterator]();
      const worker = async () => {
        for (let next = ids.next(); !next.done && !signal.aborted; next = ids.next()) await this.placeClaimed(next.value, holders.get(next.value) ?? [], listed, stats);
      };
      await Promise.all(Array.from({ length: this.options.concurrency ?? 2 }, worker));
    } catch (err) {
      this.log.error("a rebalance pass failed; the next one tries again", { err });
    }
    stats.finishedAt = new Date().toISOString();
    this.last = stats;
    this.current = undefined;
    if (stats.copied + stats.removed + stats.unreadable > 0 || stats.waiting > 0) this.log.info("rebalance pass", { ...stats });
    return stats;
  }

  /** Which nodes hold a copy of each chunk, from one listing per node that is up; counts unreferenced copies. */
  private async listNodes(referenced: ReadonlySet<string>, stats: RebalanceStats): Promise<{ holders: Map<string, string[]>; listed: Set<string> }> {
    const { store } = this;
    const holders = new Map<string, string[]>();
    const listed = new Set<string>();
    const up = store.membership.nodes().filter((node) => node.state === "up");
    const listings = await Promise.all(
      up.map((node) =>
        store.client.list(node.id).catch((err: unknown) => {
          store.failures.report("unreachable", "could not list a storage node's copies; rebalancing without it", { node: node.id }, err);
          return undefined;
        }),
      ),
    );
    for (const [i, listing] of listings.entries()) {
      const node = up[i]!.id;
      if (!listing) {
        stats.unlisted++;
        continue;
      }
      listed.add(node);
      for (const { id } of listing) {
        if (!referenced.has(id)) stats.unreferenced++;
        else holders.set(id, [...(holders.get(id) ?? []), node]);
      }
    }
    return { holders, listed };
  }

  /** `place` with the chunk claimed (upkeep may be completing it: then it waits for the next pass). */
  private async placeClaimed(id: string, have: string[], listed: Set<string>, stats: RebalanceStats): Promise<void> {
    stats.chunks++;
    if (!this.store.claim(id)) {
      stats.deferred++;
      return;
    }
    try {
      await this.place(id, have, listed, stats);
    } finally {
      this.store.release(id);
    }
  }

  /** Completes one chunk on its targets and, once they all hold it, takes it out of the repair queue and removes its misplaced copies. */
  private async place(id: string, have: string[], listed: Set<string>, stats: RebalanceStats): Promise<void> {
    const { store } = this;
    const targets = store.targets(id);
    const unknown = targets.filter((node) => !listed.has(node));
    const missing = targets.filter((node) => listed.has(node) && !have.includes(node));
    const extra = have.filter((node) => !targets.includes(node));
    stats.misplaced += extra.length;
    if (have.length === 0) {
      // Copies may be on a node that is down or did not answer: not known lost yet.
      const unasked = store.membership.nodes().some((node) => node.state !== "lost" && !listed.has(node.id));
      if (unasked) {
        if (!store.queue.has(id)) stats.waiting++;
        return;
      }
      stats.unreadable++;
      store.failures.report("unreadable", "no storage node that answered holds a copy of a referenced chunk", { chunk: id });
      return;
    }
    const short = missing.length + unknown.length > 0 || targets.length < store.replicas;
    if (short) stats.underReplicated++;
    if (unknown.length > 0 && !store.queue.has(id)) stats.waiting++; // a queued one is counted by the queue
    // A queued chunk is read through even with no copy missing: a damaged one is rewritten too.
    if (missing.length > 0 || store.queue.has(id)) {
      const { written, complete } = await store.copy(id, missing, this.options.throttle);
      stats.copied += written;
      if (!complete) {
        stats.deferred++;
        return;
      }
    }
    if (unknown.length > 0 || targets.length < store.replicas) return; // not every target is known to hold one: keep every copy
    store.queue.remove(id);
    for (const node of extra) {
      try {
        if (await store.client.delete(node, id)) stats.removed++;
      } catch (err) {
        store.failures.report("delete", "could not remove a copy from a node that is no longer among its chunk's targets; next pass", { node, chunk: id }, err);
      }
    }
  }
}
