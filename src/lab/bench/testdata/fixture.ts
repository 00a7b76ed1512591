import type { BenchResult } from "../result.ts";
import recorded from "./quick-3-nodes.json";

/** A fresh copy of a recorded quick run on a three-node loopback lab, to change freely in a test. */
export function recordedRun(): BenchResult {
  return structuredClone(recorded) as BenchResult;
}
