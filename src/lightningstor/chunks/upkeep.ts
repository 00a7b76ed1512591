import type { Logger } from "../../util/log.ts";
import { runPeriodically } from "../../util/schedule.ts";
import { collectGarbage } from "./gc.ts";
import { RepairThrottle } from "./repair-throttle.ts";
import type { ReplicatedChunkStore } from "./replicated-chunk-store.ts";

/** When ChunkUpkeep works. */
export interface UpkeepOptions {
  /** How often chunks known to lack copies are completed (default 1 s). */
  repairEveryMs?: number;
  /** Paces the copies written (shared with the rebalance pass); default 64 MiB/s. */
  throttle?: RepairThrottle;
  /**
   * Garbage collection (gc.ts: only copies this gateway, `owner`, wrote) and
   * anti-entropy against what the metadata references, every `everyMs`, first
   * `firstMs` after start (default `everyMs`); not run when absent. Copies
   * younger than `minAgeMs` (default `everyMs`) are never collected.
   */
  collect?: { firstMs?: number; everyMs: number; minAgeMs?: number; owner: string; referenced: () => Promise<ReadonlySet<string>> };
}

/** What a node says of a copy it should hold. */
type Held = "present" | "absent" | "unknown";

/**
 * The background work that keeps a ReplicatedChunkStore's copies whole:
 * completing chunks short of copies (stored while a node was down, or found
 * missing or damaged), anti-entropy (asking nodes whether they still hold the
 * copies they should) and garbage collection (copies nothing references).
 * Nothing runs until `start(signal)`; the signal stops all of it. Each storage
 * node scrubs its own copies (storage-node.ts) and deletes damaged ones, which
 * anti-entropy then restores.
 */
export class ChunkUpkeep {
  private readonly repairEveryMs: number;
  readonly throttle: RepairThrottle;
  /** Chunks whose copies are being rewritten right now (for /metrics). */
  repairing = 0;
  /** Unhealthy nodes being probed now (one probe each at a time). */
  private readonly probing = new Set<string>();

  constructor(
    private readonly store: ReplicatedChunkStore,
    private readonly log: Logger,
    private readonly options: UpkeepOptions = {},
  ) {
    this.repairEveryMs = options.repairEveryMs ?? 1000;
    this.throttle = options.throttle ?? new RepairThrottle();
  }

  /** Runs the upkeep until `signal` aborts; resolves once every loop has stopped. */
  async start(signal: AbortSignal): Promise<void> {
    const every = this.repairEveryMs;
    const loops = [runPeriodically(() => this.completeCopies(), { firstMs: every, everyMs: every, signal })];
    const collect = this.options.collect;
    if (collect) loops.push(runPeriodically(() => this.collect(collect.referenced), { firstMs: collect.firstMs ?? collect.everyMs, everyMs: collect.everyMs, signal }));
    await Promise.all(loops);
  }

  /**
   * Gives each chunk known to be short its missing copies; a chunk whose nodes
   * do not all answer yet waits for the next round, and one is done once every
   * node of its placement has a copy.
   */
  async completeCopies(): Promise<void> {
    const { store } = this;
    this.probeUnhealthy();
    for (const id of store.queue.ids()) {
      if (!store.claim(id)) continue; // a rebalance pass has it
      try {
        const { targets, held } = await this.placementStatus(id);
        const missing = targets.filter((_, i) => held[i] === "absent");
        if (missing.length === 0) {
          if (held.every((h) => h === "present") && targets.length === store.replicas) store.queue.remove(id);
          continue;
        }
        this.repairing++;
        // Streamed from an intact copy (to nodes found with a damaged one too), paced.
        await store.copy(id, missing, this.throttle).finally(() => this.repairing--);
      } finally {
        store.release(id);
      }
    }
  }

  /**
   * Probes each node passed over after a failed call, without waiting: one
   * that answers is used again at once rather than when its mark runs out.
   */
  private probeUnhealthy(): void {
    const { client } = this.store;
    for (const node of client.health.unhealthy(this.store.nodes)) {
      if (this.probing.has(node)) continue;
      this.probing.add(node);
      void client
        .probe(node)
        .catch((err: unknown) => this.store.failures.report("unreachable", "a storage node passed over still does not answer; probing it again", { node }, err))
        .finally(() => this.probing.delete(node));
    }
  }

  /**
   * Anti-entropy: asks the placement nodes of each chunk whether they hold a
   * copy; a chunk missing one (a node lost it, or its scrub removed a damaged
   * one) is completed like one stored short. Returns how many chunks lacked a copy.
   */
  async checkCopies(ids: Iterable<string>): Promise<number> {
    let short = 0;
    for (const id of ids) {
      const { held } = await this.placementStatus(id);
      if (!held.includes("absent")) continue;
      this.store.queue.add(id, "missing");
      short++;
    }
    return short;
  }

  /**
   * Copies this gateway wrote and no object or part references go once older
   * than a round (gc.ts); referenced chunks missing a copy get it back.
   */
  private async collect(references: () => Promise<ReadonlySet<string>>): Promise<void> {
    const { owner, everyMs, minAgeMs } = this.options.collect!;
    try {
      const referenced = await references();
      const { removed, unowned, young } = await collectGarbage(this.store, { owner, isReferenced: (id) => referenced.has(id), minAgeMs: minAgeMs ?? everyMs });
      this.log.debug("garbage collection round", { removed, unowned, young });
      if (removed > 0) this.log.info("removed unreferenced chunk copies from storage nodes", { copies: removed });
      if (unowned > 0) this.log.debug("kept unreferenced copies written before chunk ids named their gateway", { copies: unowned });
      const short = await this.checkCopies(referenced);
      if (short > 0) this.log.warn("chunks found missing copies; restoring them", { chunks: short });
    } catch (err) {
      this.log.error("chunk upkeep failed", { err });
    }
  }

  /**
   * The chunk's R nodes and whether each holds a copy; a node that does not
   * answer is reported, not taken for absent, and one that failed a call
   * recently is not asked (the round does not wait for it).
   */
  private async placementStatus(id: string): Promise<{ targets: string[]; held: Held[] }> {
    const targets = this.store.targets(id);
    const { client } = this.store;
    const held = await Promise.all(
      targets.map((node) =>
        (client.health.healthy(node) ? client.head(node, id) : Promise.resolve("skip" as const)).then(
          (info): Held => (info === "skip" ? "unknown" : info ? "present" : "absent"),
          (err: unknown): Held => {
            this.store.failures.report("unreachable", "storage node did not answer whether it holds a copy; asking again later", { node, chunk: id }, err);
            return "unknown";
          },
        ),
      ),
    );
    return { targets, held };
  }
}
