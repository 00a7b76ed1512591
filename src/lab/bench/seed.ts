import type { Figures } from "./figures.ts";

/**
 * The seed's published figures (shared/seed-storage-benchmarks.md, generated
 * 2026-03-27 by `nix run ./nix/test-cluster#cluster -- bench-storage` on a
 * five-node nested-QEMU lab): what this run's ratios are set beside.
 */
export const SEED_FIGURES: Figures = {
  tcpWorker: 45.92,
  tcpWorkerRetransmits: 193,
  tcpClient: 45.99,
  tcpClientRetransmits: 207,
  fio: {
    local: { seqWrite: 679.05, seqRead: 2723.4, randRead: 16958, randReadQ32: 106026, q32Write: 3417.45, q32Read: 12996.47 },
    controller: { seqWrite: 30.35, seqRead: 42.7, randRead: 2034, randReadQ32: 14261, q32Write: 39.26, q32Read: 55.71 },
    nodeLocal: { seqWrite: 395.06, seqRead: 709.14, randRead: 5087, randReadQ32: 28898, q32Write: 178.04, q32Read: 112.88 },
  },
  materializeFirstSeconds: 9.23,
  materializeSecondSeconds: 5.82,
  secondNodeRead: 709.14,
  s3: {
    largeSizeMiB: 256,
    largeUp: 18.2,
    largeDown: 39.21,
    batchUp: 18.96,
    batchDown: 39.88,
    putRate: 4.74,
    getRate: 9.97,
    parallelUp: 16.23,
    parallelDown: 26.07,
    parallelPutRate: 4.06,
    parallelGetRate: 6.52,
  },
  vm: {
    artifactMiB: 2017,
    virtualMiB: 4096,
    createImageSeconds: 66.49,
    firstCloneSeconds: 16.86,
    secondCloneSeconds: 0.12,
    attachSeconds: 0.6,
    guestResultSeconds: 35.69,
    guestSeqWrite: 123.49252223968506,
    guestSeqRead: 1492.7113695144653,
    guestRandRead: 25550,
  },
};

/** Where the seed's figures come from, for the report. */
export const SEED_SOURCE = "seed-storage-benchmarks.md (2026-03-27, five-node nested-QEMU lab)";
