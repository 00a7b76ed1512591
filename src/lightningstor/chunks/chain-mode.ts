/**
 * How a chunk's copies reach their storage nodes: `fanout` streams each copy
 * from the gateway (R × the bytes on its uplink), `chain` sends the bytes once
 * and each node forwards them to the next (chain-hop.ts). `auto` picks per
 * chunk by a stated rule: fan-out when every target is on loopback — one host,
 * where the bytes cost CPU, not a link, and fan-out measured faster
 * (docs/benchmarks/s3.md) — chain otherwise.
 */
export type ReplicationMode = "chain" | "fanout" | "auto";

export const REPLICATION_MODES: readonly ReplicationMode[] = ["chain", "fanout", "auto"];

/** Whether a node URL's host is a loopback address. */
export function isLoopback(url: string): boolean {
  const host = new URL(url).hostname;
  return host === "localhost" || host === "[::1]" || /^127\.\d+\.\d+\.\d+$/.test(host);
}

/** The way the copies of a chunk placed on `targets` go, under `mode`. */
export function modeFor(mode: ReplicationMode, targets: readonly string[]): "chain" | "fanout" {
  if (mode !== "auto") return mode;
  return targets.length > 1 && !targets.every(isLoopback) ? "chain" : "fanout";
}
