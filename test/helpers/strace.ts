import { readFileSync } from "node:fs";

/**
 * One system call from an `strace -f -o FILE` trace. `start` and `end` are the
 * line numbers where it began and where it returned: a call another thread
 * interrupted is split into `<unfinished ...>` and `<... resumed>` lines, and
 * what matters for "durable before the reply" is when it returned.
 */
export interface TracedCall {
  pid: number;
  name: string;
  /** The arguments as printed (with `-y`, file descriptors carry their paths: `12</dir/file>`). */
  args: string;
  result: string;
  start: number;
  end: number;
}

const WHOLE = /^(\d+)\s+(\w+)\((.*)\)\s+=\s+(.*)$/;
const UNFINISHED = /^(\d+)\s+(\w+)\((.*?)\s*<unfinished \.\.\.>$/;
const RESUMED = /^(\d+)\s+<\.\.\. (\w+) resumed>(.*)\)\s+=\s+(.*)$/;

/** Parses a trace written with `strace -f -o FILE` (every line starts with its pid). */
export function readTrace(path: string): TracedCall[] {
  const calls: TracedCall[] = [];
  const pending = new Map<string, TracedCall>();
  readFileSync(path, "utf8")
    .split("\n")
    .forEach((line, index) => {
      let m = WHOLE.exec(line);
      if (m) return void calls.push({ pid: Number(m[1]), name: m[2]!, args: m[3]!, result: m[4]!, start: index, end: index });
      if ((m = UNFINISHED.exec(line))) {
        const call = { pid: Number(m[1]), name: m[2]!, args: m[3]!, result: "", start: index, end: -1 };
        pending.set(`${call.pid} ${call.name}`, call);
        return void calls.push(call);
      }
      if ((m = RESUMED.exec(line))) {
        const call = pending.get(`${m[1]} ${m[2]}`);
        if (!call) return;
        pending.delete(`${m[1]} ${m[2]}`);
        call.args += m[3];
        call.result = m[4]!;
        call.end = index;
      }
    });
  return calls.filter((call) => call.end >= 0);
}

/** The path strace printed for a call's first (file descriptor) argument with `-y`, e.g. `fsync(12</a/b>)`. */
export function fdPath(call: TracedCall): string | undefined {
  return /^\d+<([^>]*)>/.exec(call.args)?.[1];
}
