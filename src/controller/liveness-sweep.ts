import type { Logger } from "../util/log.ts";
import { runPeriodically } from "../util/schedule.ts";
import type { ControllerLease } from "./controller-lease.ts";
import type { NodeStore } from "./node-store.ts";

/** What the liveness sweep works with. */
export interface LivenessSweepOptions {
  store: NodeStore;
  lease: ControllerLease;
  /** A node is marked down after this long without a heartbeat. */
  nodeTimeoutMs: number;
  log: Logger;
}

/**
 * The heartbeat time before which an `up` node is marked down, at `now`;
 * undefined while no node may be judged yet. A heartbeat's age counts from
 * when this controller became active (`activeSince`), not only from the
 * heartbeat: while no controller was active (a takeover, a restart) agents
 * had nowhere to send theirs, so a fresh active controller waits one node
 * timeout before marking anyone down.
 */
export function staleBefore(now: number, nodeTimeoutMs: number, activeSince: number | undefined): Date | undefined {
  if (activeSince === undefined || now - activeSince < nodeTimeoutMs) return undefined;
  return new Date(now - nodeTimeoutMs);
}

/** Marks nodes that missed their heartbeats down, every quarter of the node timeout, in the active controller only; resolves once `signal` aborts. */
export function runLivenessSweep(options: LivenessSweepOptions, signal: AbortSignal): Promise<void> {
  const { store, lease, nodeTimeoutMs, log } = options;
  const everyMs = Math.max(50, Math.floor(nodeTimeoutMs / 4));
  return runPeriodically(
    async () => {
      const cutoff = staleBefore(Date.now(), nodeTimeoutMs, lease.activeSince());
      if (!cutoff) return;
      try {
        for (const node of await store.markStale(cutoff)) log.warn("node down: missed heartbeats", { node: node.name, lastHeartbeatAt: node.lastHeartbeatAt.toISOString() });
      } catch (err) {
        log.error("could not mark nodes down (the metadata database did not answer)", { err });
      }
    },
    { firstMs: everyMs, everyMs, signal },
  );
}
