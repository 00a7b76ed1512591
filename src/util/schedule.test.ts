import { describe, expect, test } from "bun:test";
import { runPeriodically, sleepUnlessAborted } from "./schedule.ts";

describe("schedule", () => {
  test("a sleep ends early, with false, when its signal aborts", async () => {
    const abort = new AbortController();
    const slept = sleepUnlessAborted(60_000, abort.signal);
    abort.abort();
    expect(await slept).toBe(false);
    expect(await sleepUnlessAborted(1, abort.signal)).toBe(false);
    expect(await sleepUnlessAborted(1, new AbortController().signal)).toBe(true);
  });

  test("a periodic task runs until the signal aborts, and the loop resolves after the run in progress", async () => {
    const abort = new AbortController();
    let runs = 0;
    let finished = 0;
    const loop = runPeriodically(
      async () => {
        runs++;
        if (runs === 3) abort.abort();
        await Bun.sleep(5);
        finished++;
      },
      { firstMs: 1, everyMs: 1, signal: abort.signal },
    );
    await loop;
    expect(runs).toBe(3);
    expect(finished).toBe(3);
  });
});
