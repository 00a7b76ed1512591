import type { Logger } from "../util/log.ts";
import { sleepUnlessAborted } from "../util/schedule.ts";
import type { ChunkUpkeep } from "./chunks/upkeep.ts";
import type { S3Metadata, SharedRepairQueue } from "./metadata.ts";

/** The lease's name in the database. */
const UPKEEP_LEASE = "upkeep";

/** How a gateway takes part in the upkeep lease (defaults: renew every 5 s, held 15 s). */
export interface UpkeepLeaseOptions {
  meta: S3Metadata;
  upkeep: ChunkUpkeep;
  queue: SharedRepairQueue;
  /** This gateway, as the lease names it. */
  holder: string;
  log: Logger;
  renewEveryMs?: number;
  ttlMs?: number;
}

/**
 * Runs the chunk upkeep (repair, anti-entropy, garbage collection) in one
 * gateway at a time among those sharing the metadata: the holder of the
 * `upkeep` lease, renewed every few seconds. When the holder dies its lease
 * runs out and another gateway takes over. Two holders for a moment (a
 * stalled one) would be harmless, only wasteful: copies are collected only
 * when no gateway's objects or parts reference them and they are older than a
 * round. The holder reads the repairs other gateways queued at each renewal.
 * Resolves once `signal` aborts and the upkeep has stopped.
 */
export async function runUpkeepUnderLease(options: UpkeepLeaseOptions, signal: AbortSignal): Promise<void> {
  const { meta, upkeep, queue, holder, log } = options;
  const renewEveryMs = options.renewEveryMs ?? 5_000;
  const ttlMs = options.ttlMs ?? 15_000;
  let running: { abort: AbortController; done: Promise<void> } | undefined;
  do {
    let held = false;
    try {
      held = await meta.holdLease(UPKEEP_LEASE, holder, ttlMs);
      if (held) await queue.refresh();
    } catch (err) {
      log.warn("could not renew the upkeep lease; upkeep pauses here until the database answers", { err });
    }
    if (held && !running) {
      const abort = new AbortController();
      running = { abort, done: upkeep.start(abort.signal) };
      log.info("this gateway runs the chunk upkeep (it holds the upkeep lease)", { holder });
    } else if (!held && running) {
      running.abort.abort();
      await running.done;
      running = undefined;
      log.info("the chunk upkeep runs in another gateway now (upkeep lease lost)", { holder });
    }
  } while (await sleepUnlessAborted(renewEveryMs, signal));
  running?.abort.abort();
  await running?.done;
}
