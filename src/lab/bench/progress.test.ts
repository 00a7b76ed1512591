import { expect, test } from "bun:test";
import { elapsed, Progress } from "./progress.ts";

const sink = (isTTY: boolean) => {
  const writes: string[] = [];
  return { writes, out: { isTTY, write: (text: string) => writes.push(text) } };
};

test("off a TTY each step is a plain line when it starts and when it ends", () => {
  const { writes, out } = sink(false);
  const progress = new Progress(2, out);
  progress.start(1, "iperf3 node04 -> node01 (1 s)");
  progress.end();
  progress.start(2, "S3 from node03");
  progress.end(new Error("503"));
  expect(writes[0]).toBe("[1/2] iperf3 node04 -> node01 (1 s)\n");
  expect(writes[1]).toMatch(/^\[1\/2\] done in 0 s \(0 s in\)\n$/);
  expect(writes[3]).toMatch(/^\[2\/2\] FAILED after 0 s: 503/);
  expect(writes.join("")).not.toContain("\r");
});

test("on a TTY the step's line is redrawn in place and kept once the step ends", () => {
  const { writes, out } = sink(true);
  const progress = new Progress(3, out);
  progress.start(2, "controller export: sequential read (node04)");
  progress.end();
  expect(writes[0]).toStartWith("\r\x1b[2K[2/3] controller export: sequential read (node04) 0 s, 0 s in");
  expect(writes.at(-1)).toBe("\r\x1b[2K[2/3] controller export: sequential read (node04): done in 0 s\n");
});

test("elapsed time reads in seconds, then minutes and seconds", () => {
  expect(elapsed(4_400)).toBe("4 s");
  expect(elapsed(72_400)).toBe("1 min 12 s");
});
