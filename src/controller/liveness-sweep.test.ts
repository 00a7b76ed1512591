import { describe, expect, test } from "bun:test";
import { staleBefore } from "./liveness-sweep.ts";

describe("staleBefore", () => {
  test("a standby judges no node", () => {
    expect(staleBefore(100_000, 15_000, undefined)).toBeUndefined();
  });

  test("a controller active for less than the node timeout judges no node yet", () => {
    expect(staleBefore(100_000, 15_000, 90_000)).toBeUndefined();
  });

  test("once active for the node timeout, nodes whose last heartbeat is older than the timeout are stale", () => {
    expect(staleBefore(100_000, 15_000, 85_000)).toEqual(new Date(85_000));
    expect(staleBefore(100_000, 15_000, 0)).toEqual(new Date(85_000));
  });
});
