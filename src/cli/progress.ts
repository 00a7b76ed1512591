import { formatBytes } from "./output.ts";

/**
 * Shows how a long transfer goes: a bar with bytes, rate and ETA redrawn on a
 * TTY (as `qemu-img convert -p` or `mc cp` users expect), a plain line every
 * few seconds otherwise. Written to stderr so stdout stays parseable.
 */
export class Progress {
  private readonly started = performance.now();
  private lastLine = 0;
  private readonly tty = process.stderr.isTTY === true;

  constructor(
    private readonly label: string,
    private readonly total?: number,
  ) {}

  update(done: number): void {
    const now = performance.now();
    if (now - this.lastLine < (this.tty ? 100 : 5000)) return;
    this.lastLine = now;
    process.stderr.write(this.render(done, now) + (this.tty ? "\r" : "\n"));
  }

  finish(done: number): void {
    const line = this.render(done, performance.now());
    process.stderr.write(this.tty ? `${line}\n` : `${line} done\n`);
  }

  private render(done: number, now: number): string {
    const seconds = Math.max((now - this.started) / 1000, 1e-3);
    const rate = done / seconds;
    const parts = [this.label];
    if (this.total) {
      const fraction = Math.min(done / this.total, 1);
      const width = 24;
      const filled = Math.round(fraction * width);
      parts.push(`[${"#".repeat(filled)}${" ".repeat(width - filled)}] ${(fraction * 100).toFixed(0).padStart(3)}%`);
      parts.push(`${formatBytes(done)} / ${formatBytes(this.total)}`);
      if (rate > 0 && done < this.total) parts.push(`ETA ${Math.ceil((this.total - done) / rate)}s`);
    } else {
      parts.push(formatBytes(done));
    }
    parts.push(`${formatBytes(rate)}/s`);
    return parts.join("  ");
  }
}

/** A pass-through stream that reports the bytes gone by. */
export function counting(progress: Progress): TransformStream<Uint8Array, Uint8Array> {
  let done = 0;
  return new TransformStream({
    transform(chunk, controller) {
      done += chunk.length;
      progress.update(done);
      controller.enqueue(chunk);
    },
    flush() {
      progress.finish(done);
    },
  });
}
