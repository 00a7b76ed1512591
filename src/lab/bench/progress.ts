/**
 * What the run is doing: on a TTY one live line ("[3/14] controller export:
 * sequential read (node04) 4 s, 1 min 12 s in"), redrawn every second;
 * otherwise a plain line as each step starts and ends.
 */
export class Progress {
  private readonly started = performance.now();
  private stepStarted = 0;
  private label = "";
  private step = 0;
  private timer: Timer | undefined;

  constructor(
    private readonly total: number,
    private readonly out: { write(text: string): unknown; isTTY?: boolean } = process.stderr,
  ) {}

  /** Step `n` (1-based) begins. */
  start(n: number, label: string): void {
    this.step = n;
    this.label = label;
    this.stepStarted = performance.now();
    if (this.out.isTTY) {
      this.draw();
      this.timer = setInterval(() => this.draw(), 1000);
    } else {
      this.out.write(`${this.prefix()} ${label}\n`);
    }
  }

  /** The current step ended; `error` when it failed. */
  end(error?: unknown): void {
    clearInterval(this.timer);
    const took = elapsed(performance.now() - this.stepStarted);
    const outcome = error === undefined ? `done in ${took}` : `FAILED after ${took}: ${error instanceof Error ? error.message : String(error)}`;
    if (this.out.isTTY) this.out.write(`\r\x1b[2K${this.prefix()} ${this.label}: ${outcome}\n`);
    else this.out.write(`${this.prefix()} ${outcome} (${elapsed(performance.now() - this.started)} in)\n`);
  }

  /** A line between steps (a skipped section, say). */
  note(text: string): void {
    this.out.write(`${text}\n`);
  }

  private prefix(): string {
    return `[${this.step}/${this.total}]`;
  }

  private draw(): void {
    const now = performance.now();
    this.out.write(`\r\x1b[2K${this.prefix()} ${this.label} ${elapsed(now - this.stepStarted)}, ${elapsed(now - this.started)} in`);
  }
}

/** 72_400 ms → "1 min 12 s". */
export function elapsed(ms: number): string {
  const s = Math.round(ms / 1000);
  return s < 60 ? `${s} s` : `${Math.floor(s / 60)} min ${s % 60} s`;
}
