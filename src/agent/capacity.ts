import { statfsSync } from "node:fs";
import { availableParallelism, totalmem } from "node:os";

/** What a node offers to the cluster. */
export interface Capacity {
  cpus: number;
  memoryBytes: number;
  diskBytes: number;
  diskFreeBytes: number;
}

/** Measures this host's CPUs and memory and the disk holding `dataDir`. */
export function measureCapacity(dataDir: string): Capacity {
  const fs = statfsSync(dataDir);
  return {
    cpus: availableParallelism(),
    memoryBytes: totalmem(),
    diskBytes: fs.blocks * fs.bsize,
    diskFreeBytes: fs.bavail * fs.bsize,
  };
}
