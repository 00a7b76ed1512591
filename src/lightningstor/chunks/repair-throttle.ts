/** How fast repairs may copy, by default: client traffic keeps the rest of a node's disk and link. */
export const DEFAULT_REPAIR_BYTES_PER_SECOND = 64 * 2 ** 20;

/**
 * Paces the bytes repairs write (copies made again, copies moved off drained
 * nodes) to `bytesPerSecond` over the whole gateway: each `take` waits until
 * the bytes before it have had their time. No bursts, no timer left behind
 * (each wait is a one-off `setTimeout`).
 */
export class RepairThrottle {
  /** When the bytes taken so far have been paid for. */
  private paidUntil = 0;

  constructor(
    readonly bytesPerSecond = DEFAULT_REPAIR_BYTES_PER_SECOND,
    private readonly clock: { now(): number; sleep(ms: number): Promise<void> } = { now: Date.now, sleep: (ms) => Bun.sleep(ms) },
  ) {
    if (!(bytesPerSecond > 0)) throw new Error("the repair rate must be above zero");
  }

  /** Resolves once `bytes` more may be written. */
  async take(bytes: number): Promise<void> {
    const now = this.clock.now();
    const start = Math.max(now, this.paidUntil);
    this.paidUntil = start + (bytes / this.bytesPerSecond) * 1000;
    if (start > now) await this.clock.sleep(start - now);
  }
}
