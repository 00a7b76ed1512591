/** A node as the scheduler sees it. */
export interface CandidateNode {
  name: string;
  roles: readonly string[];
  state: "up" | "down";
  scheduling: "active" | "drained";
  cpus: number;
  memoryBytes: number;
}

/** What a VM needs, and what each placed VM takes from its node. */
export interface VmDemand {
  cpus: number;
  memoryBytes: number;
}

export interface Placement extends VmDemand {
  node: string;
}

export interface SchedulingOptions {
  /** vCPUs per host CPU a node may hand out (OpenStack's cpu_allocation_ratio; memory is never overcommitted). */
  cpuRatio: number;
  /** Take this node if it fits (a VM restarting where its disks' base is cached). */
  prefer?: string;
  /** Only this node (`vm move --to`). */
  only?: string;
}

export type SchedulingResult = { node: string } | { error: string };

const GiB = 1024 ** 3;
const gib = (bytes: number) => `${(bytes / GiB).toFixed(1)} GiB`;

/**
 * Picks the node for a VM: an `up`, not drained node with the `compute` role
 * and enough free vCPUs and memory after what is already placed on it; the
 * preferred node when it fits, else the one with the most free memory. When
 * nothing fits, the error says for each node what was short.
 */
export function pickNode(nodes: readonly CandidateNode[], placed: readonly Placement[], demand: VmDemand, options: SchedulingOptions): SchedulingResult {
  const reasons: string[] = [];
  const fitting: { name: string; freeMemory: number }[] = [];
  for (const node of nodes) {
    if (options.only !== undefined && node.name !== options.only) continue;
    if (!node.roles.includes("compute")) {
      reasons.push(`${node.name} has no compute role`);
      continue;
    }
    if (node.state !== "up") {
      reasons.push(`${node.name} is down`);
      continue;
    }
    if (node.scheduling === "drained") {
      reasons.push(`${node.name} is drained`);
      continue;
    }
    const onNode = placed.filter((p) => p.node === node.name);
    const freeCpus = Math.floor(node.cpus * options.cpuRatio) - onNode.reduce((sum, p) => sum + p.cpus, 0);
    const freeMemory = node.memoryBytes - onNode.reduce((sum, p) => sum + p.memoryBytes, 0);
    const short: string[] = [];
    if (freeCpus < demand.cpus) short.push(`${Math.max(freeCpus, 0)} free vCPUs`);
    if (freeMemory < demand.memoryBytes) short.push(`${gib(Math.max(freeMemory, 0))} free memory`);
    if (short.length > 0) reasons.push(`${node.name} has only ${short.join(" and ")}`);
    else fitting.push({ name: node.name, freeMemory });
  }
  if (fitting.length === 0) {
    const wanted = `${demand.cpus} vCPUs and ${gib(demand.memoryBytes)} of memory`;
    if (options.only !== undefined && reasons.length === 0) return { error: `no node named ${options.only}` };
    if (reasons.length === 0) return { error: `no node can take ${wanted}: no compute nodes are registered` };
    return { error: `no node can take ${wanted}: ${reasons.join("; ")}` };
  }
  const preferred = fitting.find((n) => n.name === options.prefer);
  if (preferred) return { node: preferred.name };
  fitting.sort((a, b) => b.freeMemory - a.freeMemory || a.name.localeCompare(b.name));
  return { node: fitting[0]!.name };
}
