/** How fast repairs may copy, by default: client traffic keeps the rest of a node's disk and link. */
export const DEFAULT_REPAIR_BYTES_PER_SECOND = 64 * 2 ** 20;

/** The share of the repair rate left while clients are being served. */
export const BUSY_REPAIR_SHARE = 1 / 8;

/** How long after a client request began the gateway counts as busy. */
const BUSY_FOR_MS = 2000;

/**
 * When the gateway last began serving a client: the S3 listener touches it on
 * every request, and repairs slow down while requests keep coming.
 */
export class ClientActivity {
  private lastAt = Number.NEGATIVE_INFINITY;

  constructor(private readonly now: () => number = Date.now) {}

  touch(): void {
    this.lastAt = this.now();
  }

  /** A request began within the last two seconds. */
  busy(): boolean {
    return this.now() - this.lastAt < BUSY_FOR_MS;
  }
}

/**
 * Paces the bytes repairs write (copies made again, copies moved off drained
 * nodes) to `bytesPerSecond` over the whole gateway, and to an eighth of it
 * while clients are being served (`clients`): each `take` waits until the
 * bytes before it have had their time. No bursts, no timer left behind (each
 * wait is a one-off `setTimeout`).
 */
export class RepairThrottle {
  /** When the bytes taken so far have been paid for. */
  private paidUntil = 0;

  constructor(
    readonly bytesPerSecond = DEFAULT_REPAIR_BYTES_PER_SECOND,
    private readonly clock: { now(): number; sleep(ms: number): Promise<void> } = { now: Date.now, sleep: (ms) => Bun.sleep(ms) },
    private readonly clients?: ClientActivity,
  ) {
    if (!(bytesPerSecond > 0)) throw new Error("the repair rate must be above zero");
  }

  /** The rate now: the whole of it when no client is being served. */
  rate(): number {
    return this.clients?.busy() ? this.bytesPerSecond * BUSY_REPAIR_SHARE : this.bytesPerSecond;
  }

  /** Resolves once `bytes` more may be written. */
  async take(bytes: number): Promise<void> {
    const now = this.clock.now();
    const start = Math.max(now, this.paidUntil);
    this.paidUntil = start + (bytes / this.rate()) * 1000;
    if (start > now) await this.clock.sleep(start - now);
  }
}
