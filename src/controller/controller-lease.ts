import { hostname } from "node:os";
import type { StoreDb } from "../db/store-db.ts";
import type { Logger } from "../util/log.ts";
import { sleepUnlessAborted } from "../util/schedule.ts";

/** The lease's name in the database's `leases` table. */
const CONTROLLER_LEASE = "controller";

/** How long a renewal holds the lease: a dead active controller is replaced within about this (plus a quarter). */
export const CONTROLLER_LEASE_TTL_MS = 5_000;

/**
 * Which of the controllers sharing a PostgreSQL database is active: the
 * holder of the `controller` lease (StoreDb.holdLease), renewed every
 * quarter of its time to live. The others are standbys that try to take it
 * at the same pace, so one takes over once a dead holder's lease has run
 * out. This process counts itself active only until the lease it last took
 * runs out by its own clock, measured from before the renewal was sent: a
 * holder that cannot renew (database away, process stalled) steps down no
 * later than the database lets another take over, so two never act at once.
 * With SQLite the one process on the file is always active.
 */
export class ControllerLease {
  /** This process in the `leases` table: host, pid and a random part (a restarted process is another holder). */
  readonly holder = `${hostname()}/${process.pid}/${crypto.randomUUID().slice(0, 8)}`;
  /** `performance.now()` until which the lease last taken is this process's. */
  private heldUntil = -Infinity;
  /** When the current active spell began (epoch ms). */
  private since: number | undefined;
  /** Whether the last renewal failed (its warning is logged once per outage). */
  private failing = false;
  /** What the log last said, so that each change is logged once. */
  private logged: "active" | "standby" | undefined;

  constructor(
    private readonly meta: StoreDb<Record<string, unknown>>,
    private readonly log: Logger,
    private readonly ttlMs = CONTROLLER_LEASE_TTL_MS,
  ) {
    if (meta.engine === "sqlite") this.since = Date.now();
  }

  /** Whether this controller is the active one now. */
  isActive(): boolean {
    return this.meta.engine === "sqlite" || performance.now() < this.heldUntil;
  }

  /** When this controller last became active (epoch ms); undefined while it is a standby. */
  activeSince(): number | undefined {
    return this.isActive() ? this.since : undefined;
  }

  /** Takes or renews the lease once; logs when this controller becomes active or standby. */
  async renew(): Promise<void> {
    if (this.meta.engine === "sqlite") return;
    const sent = performance.now();
    let held: boolean | undefined;
    try {
      held = await this.meta.holdLease(CONTROLLER_LEASE, this.holder, this.ttlMs);
      this.failing = false;
    } catch (err) {
      if (!this.failing) this.log.warn("could not take or renew the controller lease (the metadata database did not answer); standby once a lease held runs out", { err });
      this.failing = true;
    }
    // Whether the renewal continues an active spell, or starts one (after a takeover, or a lapse: no heartbeats reached this controller meanwhile).
    const wasActive = this.isActive();
    if (held !== undefined) this.heldUntil = held ? sent + this.ttlMs : -Infinity;
    if (this.isActive() && !wasActive) this.since = Date.now();
    this.report();
  }

  /** Renews the lease every quarter of its time to live until `signal` aborts, then gives it up for a standby to take at once. */
  async run(signal: AbortSignal): Promise<void> {
    if (this.meta.engine === "sqlite") return;
    while (await sleepUnlessAborted(this.ttlMs / 4, signal)) await this.renew();
    if (!this.isActive()) return;
    this.heldUntil = -Infinity;
    // Held for no time: expired for the next transaction (holdLease only changes a lease this holder holds or one that ran out).
    await this.meta.holdLease(CONTROLLER_LEASE, this.holder, 0).catch((err: unknown) => this.log.warn("could not give up the controller lease; a standby takes over once it runs out", { err }));
  }

  private report(): void {
    const state = this.isActive() ? "active" : "standby";
    if (state === this.logged) return;
    this.logged = state;
    if (state === "active") this.log.info("this controller is active (it holds the controller lease)", { holder: this.holder });
    else this.log.info("this controller is a standby (another holds the controller lease, or it cannot be renewed)", { holder: this.holder });
  }
}
