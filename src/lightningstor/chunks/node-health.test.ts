import { expect, test } from "bun:test";
import { NodeHealth } from "./node-health.ts";

test("a node that failed a call is tried last until its period passes, and a success clears it at once", async () => {
  const health = new NodeHealth(50);
  health.failed("b");
  expect(health.healthyFirst(["a", "b", "c"])).toEqual(["a", "c", "b"]);
  expect(health.unhealthy(["a", "b", "c"])).toEqual(["b"]);
  health.succeeded("b");
  expect(health.healthy("b")).toBe(true);
  health.failed("c");
  await Bun.sleep(60);
  expect(health.healthyFirst(["a", "b", "c"])).toEqual(["a", "b", "c"]);
});
