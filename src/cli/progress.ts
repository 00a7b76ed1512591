import { existsSync, statSync } from "node:fs";
import { basename } from "node:path";
import { CliError } from "./errors.ts";
import { formatBytes } from "./output.ts";

/**
 * Shows how a long transfer goes: a bar with bytes, rate and ETA redrawn on a
 * TTY (as `qemu-img convert -p` or `mc cp` users expect), a plain line every
 * few seconds otherwise. Written to stderr so stdout stays parseable; with
 * `quiet` (the command's `--json`: output for scripts) nothing is shown.
 */
export class Progress {
  private readonly started = performance.now();
  private lastLine = 0;
  private readonly tty = process.stderr.isTTY === true;

  constructor(
    private readonly label: string,
    private readonly total?: number,
    private readonly quiet = false,
  ) {}

  update(done: number): void {
    if (this.quiet) return;
    const now = performance.now();
    if (now - this.lastLine < (this.tty ? 100 : 5000)) return;
    this.lastLine = now;
    process.stderr.write(this.render(done, now) + (this.tty ? "\r" : "\n"));
  }

  finish(done: number): void {
    if (this.quiet) return;
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

/**
 * Shows the progress of `work`, a request the server runs for a while,
 * by asking `poll` how far it has got (undefined: not known yet) until
 * the request settles; `finalBytes` is the total when done.
 */
export async function pollingProgress<T>(
  label: string,
  work: Promise<T>,
  poll: () => Promise<{ doneBytes: number; totalBytes: number } | undefined>,
  finalBytes: (result: T) => number,
  options: { quiet?: boolean; intervalMs?: number } = {},
): Promise<T> {
  if (options.quiet) return work;
  const intervalMs = options.intervalMs ?? 250;
  let progress: Progress | undefined;
  let settled = false;
  const watching = (async () => {
    while (!settled) {
      await Bun.sleep(intervalMs);
      let state: Awaited<ReturnType<typeof poll>>;
      try {
        state = settled ? undefined : await poll();
      } catch (err) {
        // The work itself reports its own failure; a progress query that fails only ends the bar.
        process.stderr.write(`${label}: no progress from the server (${(err as Error).message}); waiting for the result\n`);
        return;
      }
      if (!state || state.totalBytes === 0 || settled) continue;
      progress ??= new Progress(label, state.totalBytes);
      progress.update(state.doneBytes);
    }
  })();
  try {
    const result = await work;
    const total = finalBytes(result);
    (progress ?? new Progress(label, total)).finish(total);
    return result;
  } finally {
    settled = true;
    await watching;
  }
}

/**
 * A local file sent as a request body, with a {@link Progress} as it goes
 * (none when `quiet`); `flag` and `alternatives` name it in the error when it is no file.
 */
export function fileUpload(path: string, options: { flag: string; alternatives?: string; quiet?: boolean }): { size: number; body: ReadableStream<Uint8Array> } {
  if (!existsSync(path) || !statSync(path).isFile()) throw new CliError(`${options.flag}: ${path} is not a file${options.alternatives ?? ""}`);
  const size = statSync(path).size;
  return { size, body: Bun.file(path).stream().pipeThrough(counting(new Progress(`uploading ${basename(path)}`, size, options.quiet))) };
}
