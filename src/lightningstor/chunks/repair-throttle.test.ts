import { expect, test } from "bun:test";
import { RepairThrottle } from "./repair-throttle.ts";

test("repairs are paced: each take waits until the bytes before it have had their time at the rate", async () => {
  let now = 1_000_000;
  const waits: number[] = [];
  const throttle = new RepairThrottle(1000, { now: () => now, sleep: async (ms) => void waits.push(ms) });
  await throttle.take(500); // the first goes at once
  await throttle.take(500); // 0.5 s of bytes before it
  await throttle.take(2000); // 1 s before it
  now += 5000; // idle long enough: nothing owed
  await throttle.take(100);
  expect(waits).toEqual([500, 1000]);
});

test("a rate of zero is refused", () => {
  expect(() => new RepairThrottle(0)).toThrow("above zero");
});
