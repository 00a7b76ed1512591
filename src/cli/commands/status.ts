import { defineCommand } from "citty";
import { ControllerClient } from "../../controller/client.ts";
import type { ClusterStatus } from "../../controller/status.ts";
import { clientArgs } from "../args.ts";
import { nodeColumns } from "../node-columns.ts";
import { clientTarget, commandContext } from "../context.ts";
import { formatBytes, print, renderTable } from "../output.ts";

/** `photon status`: the cluster at a glance, from the controller (like `garage status` or `ceph -s`). */
export default defineCommand({
  meta: { name: "status", description: "Show the cluster at a glance: nodes, services and their health, volumes, images, VMs" },
  args: clientArgs,
  async run({ args }) {
    const { server, token, ca } = clientTarget(commandContext(args).sources);
    const status = await new ControllerClient(server, token, ca).status();
    print(args.json, status, () => renderStatus(status));
  },
});

/** The human rendering: a headline, then a table per kind. */
export function renderStatus(status: ClusterStatus): string {
  const unhealthy = status.services.filter((s) => s.health !== "ok").length;
  const down = status.nodes.filter((n) => n.state !== "up").length;
  const problems = [unhealthy ? `${unhealthy} of ${status.services.length} services unhealthy` : "", down ? `${down} of ${status.nodes.length} nodes down` : ""].filter(Boolean);
  const totals = (label: string, count: number, detail: string) => `${label.padEnd(8)} ${count}${count ? ` (${detail})` : ""}`;
  return [
    `cluster: ${status.health}${problems.length ? ` (${problems.join(", ")})` : ""}`,
    "",
    renderTable(status.nodes, nodeColumns()),
    "",
    renderTable(status.services, [
      { header: "service", value: (s) => (s.node ? `${s.service} ${s.node}` : s.service) },
      { header: "url", value: (s) => s.url },
      { header: "health", value: (s) => (s.detail ? `${s.health}: ${s.detail}` : s.health) },
    ]),
    "",
    status.volumes
      ? totals("volumes", status.volumes.count, `${formatBytes(status.volumes.bytes)} provisioned`)
      : `volumes  unknown (${status.services.some((s) => s.service === "nbd-export") ? "the nbd-export does not answer" : "the controller runs without --coronafs"})`,
    totals("images", status.images.count, `${formatBytes(status.images.bytes)} of artifacts`),
    totals("vms", status.vms.count, `${status.vms.running} running`),
    status.replication
      ? `chunks   ${status.replication.underReplicated} under-replicated, ${status.replication.repairing} being repaired, ${status.replication.unhealthyNodes} storage nodes unhealthy`
      : "chunks   replication health unknown (the controller runs without --s3-admin, or the gateway does not answer)",
  ].join("\n");
}
