import { expect, test } from "bun:test";
import { ClientActivity, RepairThrottle } from "./repair-throttle.ts";

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

test("while clients are being served, repairs get an eighth of the rate; the whole of it again once requests stop", async () => {
  let now = 1_000_000;
  const waits: number[] = [];
  const clients = new ClientActivity(() => now);
  const throttle = new RepairThrottle(8000, { now: () => now, sleep: async (ms) => void waits.push(ms) }, clients);
  clients.touch();
  await throttle.take(1000); // at 1000 B/s: paid until +1 s
  await throttle.take(1000); // waits 1 s
  now += 10_000; // no request for 10 s: idle, nothing owed
  await throttle.take(8000); // at 8000 B/s: paid until +1 s
  await throttle.take(8000); // waits 1 s
  expect(waits).toEqual([1000, 1000]);
  expect(clients.busy()).toBe(false);
});
