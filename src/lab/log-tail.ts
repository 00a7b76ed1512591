import { closeSync, openSync, readSync, statSync } from "node:fs";
import type { LogFields, Logger } from "../util/log.ts";

/** Photon's JSON lines, or PostgreSQL's plain server log (`… LOG:  …`, `… FATAL:  …`). */
export type LogFormat = "json" | "postgres";

interface Tailed {
  path: string;
  fields: LogFields;
  format: LogFormat;
  offset: number;
  partial: string;
}

/**
 * Follows the children's log files and repeats their warnings and errors on the lab's own
 * log, so the lab's terminal shows what went wrong without the operator opening each file.
 * Children write the files directly: a lab that dies never blocks or breaks their output.
 */
export class LogTail {
  private readonly files: Tailed[] = [];
  private timer?: ReturnType<typeof setInterval>;

  constructor(
    private readonly log: Logger,
    private readonly intervalMs = 250,
  ) {}

  /** Follows `path` from its current end, tagging repeated lines with `fields`. */
  add(path: string, fields: LogFields, format: LogFormat = "json"): void {
    this.files.push({ path, fields, format, offset: sizeOf(path), partial: "" });
    this.timer ??= setInterval(() => this.poll(), this.intervalMs);
  }

  stop(): void {
    this.poll();
    clearInterval(this.timer);
  }

  private poll(): void {
    for (const file of this.files) {
      const size = sizeOf(file.path);
      if (size <= file.offset) continue;
      const buf = Buffer.alloc(Math.min(size - file.offset, 1 << 20));
      const fd = openSync(file.path, "r");
      try {
        file.offset += readSync(fd, buf, 0, buf.length, file.offset);
      } finally {
        closeSync(fd);
      }
      const lines = (file.partial + buf.toString("utf8")).split("\n");
      file.partial = lines.pop()!;
      for (const line of lines) {
        if (file.format === "json") this.repeat(line, file.fields);
        else if (/\b(WARNING|ERROR|FATAL|PANIC):/.test(line)) this.log.warn(line.trim(), file.fields); // its LOG lines are routine
      }
    }
  }

  private repeat(line: string, fields: LogFields): void {
    let entry: { level?: string; msg?: string; time?: string; [key: string]: unknown };
    try {
      entry = JSON.parse(line) as typeof entry;
    } catch {
      // Not a log line: a crash trace or a runtime's message, which is worth showing.
      if (line.trim()) this.log.warn(line.trim(), fields);
      return;
    }
    const { level, msg, time: _time, ...rest } = entry;
    if (level === "warn" || level === "error") this.log[level](String(msg), { ...rest, ...fields });
  }
}

function sizeOf(path: string): number {
  try {
    return statSync(path).size;
  } catch {
    return 0;
  }
}
