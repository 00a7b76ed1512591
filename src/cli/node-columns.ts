import type { NodeInfo } from "../controller/client.ts";
import { formatBytes, type Column } from "./output.ts";

/** What a node row needs for {@link nodeColumns}: a node of `node list` or of `status`. */
type NodeFigures = Pick<NodeInfo, "name" | "state" | "scheduling" | "roles" | "cpus" | "memoryBytes" | "diskBytes" | "diskFreeBytes">;

/** The columns `node list` and `status` share: name, state, scheduling, roles and capacity. */
export function nodeColumns<T extends NodeFigures>(): Column<T>[] {
  return [
    { header: "name", value: (n) => n.name },
    { header: "state", value: (n) => n.state },
    { header: "scheduling", value: (n) => n.scheduling },
    { header: "roles", value: (n) => n.roles.join(",") },
    { header: "cpus", value: (n) => n.cpus },
    { header: "memory", value: (n) => formatBytes(n.memoryBytes) },
    { header: "disk free", value: (n) => `${formatBytes(n.diskFreeBytes)} / ${formatBytes(n.diskBytes)}` },
  ];
}
