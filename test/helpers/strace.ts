import { readFileSync } from "node:fs";

/**
 * One system call from an `strace -f -o FILE` trace. `start` and `end` are the
 * line numbers where it began and where it returned: a call another thread
 * interrupted is split into `<unfinished ...>` and `<... resumed>` lines, and
 * what matters for "durable before the reply" is when it returned. A call
 * still in progress when the trace was read — unfinished, or its entry
 * written without its result yet — has no `result` and ends at Infinity:
 * after everything the trace shows, so it never passes for done before anything.
 */
export interface TracedCall {
  pid: number;
  name: string;
  /** The arguments as printed (with `-y`, file descriptors carry their paths: `12</dir/file>`). */
  args: string;
  result?: string;
  start: number;
  end: number;
}

const WHOLE = /^(\d+)\s+(\w+)\((.*)\)\s+=\s+(.*)$/;
const UNFINISHED = /^(\d+)\s+(\w+)\((.*?)\s*<unfinished \.\.\.>$/;
const RESUMED = /^(\d+)\s+<\.\.\. (\w+) resumed>(.*)\)\s+=\s+(.*)$/;
/** strace writes a call's entry as it starts and the rest of its line as it returns. */
const ENTERED = /^(\d+)\s+(\w+)\((.*)$/;

/**
 * Parses a trace written with `strace -f -o FILE` (every line starts with its
 * pid), reporting every call it has seen begin, finished or not. A trace read
 * while strace writes it may end in a partial line: the call it begins is
 * reported as unfinished, never dropped or taken for whole.
 */
export function readTrace(path: string): TracedCall[] {
  const calls: TracedCall[] = [];
  const pending = new Map<string, TracedCall>();
  const lines = readFileSync(path, "utf8").split("\n");
  lines.forEach((line, index) => {
    let m: RegExpExecArray | null;
    if (index === lines.length - 1) {
      // No newline yet: at most a call's entry.
      if ((m = ENTERED.exec(line))) calls.push({ pid: Number(m[1]), name: m[2]!, args: m[3]!, start: index, end: Infinity });
      return;
    }
    if ((m = WHOLE.exec(line))) return void calls.push({ pid: Number(m[1]), name: m[2]!, args: m[3]!, result: m[4]!, start: index, end: index });
    if ((m = UNFINISHED.exec(line))) {
      const call: TracedCall = { pid: Number(m[1]), name: m[2]!, args: m[3]!, start: index, end: Infinity };
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
  return calls;
}

/** The path strace printed for a call's first (file descriptor) argument with `-y`, e.g. `fsync(12</a/b>)`. */
export function fdPath(call: TracedCall): string | undefined {
  return /^\d+<([^>]*)>/.exec(call.args)?.[1];
}
