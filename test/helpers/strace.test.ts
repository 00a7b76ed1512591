import { afterEach, describe, expect, test } from "bun:test";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { tempDir } from "./photon.ts";
import { fdPath, readTrace } from "./strace.ts";

let dir = tempDir("photon-strace-");
afterEach(() => {
  dir[Symbol.dispose]();
  dir = tempDir("photon-strace-");
});
const traceOf = (text: string) => {
  const path = join(dir.path, "trace.txt");
  writeFileSync(path, text);
  return readTrace(path);
};

describe("the strace reader", () => {
  test("a whole call has its arguments, result and one line", () => {
    const [call] = traceOf('7 fsync(12</d/a.tmp>) = 0\n');
    expect(call).toEqual({ pid: 7, name: "fsync", args: "12</d/a.tmp>", result: "0", start: 0, end: 0 });
    expect(fdPath(call!)).toBe("/d/a.tmp");
  });

  test("a call another thread interrupted ends on its resumed line", () => {
    const calls = traceOf('7 fsync(12</d> <unfinished ...>\n8 sendto(5, "HTTP/1.1 201", 12, 0, NULL, 0) = 12\n7 <... fsync resumed>) = 0\n');
    expect(calls.map((c) => [c.name, c.start, c.end, c.result])).toEqual([["fsync", 0, 2, "0"], ["sendto", 1, 1, "12"]]);
  });

  test("unfinished calls are reported, ending at Infinity, not dropped: interrupted, or the entry of the last, partial line", () => {
    const calls = traceOf('7 fsync(12</d> <unfinished ...>\n8 sendto(5, "HTTP/1.1 201", 12, 0, NULL, 0');
    expect(calls.map((c) => [c.name, c.start, c.end, c.result])).toEqual([["fsync", 0, Infinity, undefined], ["sendto", 1, Infinity, undefined]]);
    expect(calls[1]!.args).toContain('"HTTP/1.1 201"');
  });

  test("a partial last line is never taken for a whole call with a cut result", () => {
    const [call] = traceOf("8 write(5, \"abc\", 3) = 3\n8 write(5, \"defgh\", 5) = ");
    expect(call!.end).toBe(0);
    expect(traceOf("8 write(5, \"defgh\", 5) = 5")[0]!.end).toBe(Infinity);
  });
});
