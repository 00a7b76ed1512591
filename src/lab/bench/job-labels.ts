import type { FioJobKey } from "./result.ts";

/** Short names of the fio jobs, for charts and sentences. */
export const jobLabels: Record<FioJobKey, string> = {
  seqWrite: "Sequential write",
  seqRead: "Sequential read",
  randRead: "4k random read",
  randReadQ32: "4k random read QD32",
  q32Write: "Depth-32 write",
  q32Read: "Depth-32 read",
};
