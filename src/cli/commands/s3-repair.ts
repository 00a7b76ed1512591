import { defineCommand } from "citty";
import type { RebalanceStats } from "../../lightningstor/chunks/rebalance.ts";
import type { RepairStatus } from "../../lightningstor/chunks/repair-status.ts";
import { formatBytes, print, renderRecord, renderTable } from "../output.ts";
import { s3Args, s3Client } from "./s3-args.ts";

/** The status's figures, one line each. */
function renderSummary(status: RepairStatus): string {
  return renderRecord({
    replicas: status.replicas,
    "under-replicated": status.underReplicated,
    queued: status.queued,
    repairing: status.repairing,
    "corrupt found": status.corruptFound,
    "gc pending": status.gcPending,
    misplaced: status.misplaced,
    "repair rate": `${formatBytes(status.repairBytesPerSecond)}/s`,
    "last pass": status.pass.last?.finishedAt ?? "none yet",
    "pass running": status.pass.current ? `since ${status.pass.current.startedAt}` : "no",
  });
}

/** The storage nodes as the gateway sees them. */
function renderNodes(nodes: RepairStatus["nodes"]): string {
  return renderTable(nodes, [
    { header: "node", value: (n) => n.name },
    { header: "url", value: (n) => n.id },
    { header: "state", value: (n) => n.state },
    { header: "drained", value: (n) => (n.drained ? "yes" : "no") },
    { header: "zone", value: (n) => n.zone ?? "-" },
    { header: "weight", value: (n) => n.weight.toFixed(1) },
    { header: "healthy", value: (n) => (n.healthy ? "yes" : "no") },
  ]);
}

/** `photon s3 repair status|run`: replication health and repair of a replicated s3-gateway. */
export const repairCommand = defineCommand({
  meta: { name: "repair", description: "Show replication health, or run a repair pass now" },
  subCommands: {
    status: defineCommand({
      meta: { name: "status", description: "Under-replicated, repairing, corrupt found, GC pending, misplaced copies and the storage nodes" },
      args: s3Args,
      async run({ args }) {
        const status = await s3Client(args).request<RepairStatus>("GET", "/v1/s3/repair");
        print(args.json, status, () => `${renderSummary(status)}\n\n${renderNodes(status.nodes)}`);
      },
    }),
    run: defineCommand({
      meta: { name: "run", description: "Run a repair and rebalance pass now and show what it found and did" },
      args: { ...s3Args, wait: { type: "boolean", default: true, description: "wait for the pass to end (--no-wait: return once it started)" } },
      async run({ args }) {
        if (!args.wait) {
          await s3Client(args).request<RepairStatus>("POST", "/v1/s3/repair/run?wait=false");
          print(args.json, { started: true }, () => "repair pass started");
          return;
        }
        const { startedAt, finishedAt, ...figures } = await s3Client(args).request<RebalanceStats>("POST", "/v1/s3/repair/run");
        print(args.json, { startedAt, finishedAt, ...figures }, () => renderRecord({ started: startedAt, finished: finishedAt ?? "running", ...figures }));
      },
    }),
  },
});
