import type { Logger } from "../util/log.ts";
import { shapeCommands, type LinkShape } from "./shaping.ts";
import type { Topology } from "./topology.ts";

/** Runs a command (ip, tc) to completion; throws with its stderr when it fails. */
export function run(argv: string[]): string {
  const result = Bun.spawnSync(argv, { stdin: "ignore", stdout: "pipe", stderr: "pipe" });
  if (result.exitCode !== 0) throw new Error(`${argv.join(" ")}: ${result.stderr.toString().trim() || `exit ${result.exitCode}`}`);
  return result.stdout.toString();
}

/** The IPv4 addresses on this host's interfaces (`ip -j addr`). */
export function hostIpv4Addresses(): string[] {
  const links = JSON.parse(run(["ip", "-j", "addr"])) as { addr_info?: { family: string; local: string }[] }[];
  return links.flatMap((l) => (l.addr_info ?? []).filter((a) => a.family === "inet").map((a) => a.local));
}

/** What shaping the lab got: the delay is dropped (with the reason) when the kernel has no netem. */
export interface AppliedShape extends LinkShape {
  delayUnavailable?: string;
}

/**
 * Creates the lab's network: a bridge holding the host's .1, and per node a namespace whose
 * veth is enslaved to the bridge, with the node's address, shaped on both ends. Nothing gets
 * a default route: a node can reach the lab's /24 and nothing else.
 */
export function createLabNetwork(topology: Topology, shape: LinkShape, log: Logger): AppliedShape {
  const bridge = topology.bridge!;
  run(["ip", "link", "add", bridge, "type", "bridge"]);
  run(["ip", "addr", "add", `${topology.hostAddress}/24`, "dev", bridge]);
  run(["ip", "link", "set", bridge, "up"]);
  for (const node of topology.nodes) {
    const ns = node.netns!;
    run(["ip", "netns", "add", ns]);
    run(["ip", "-n", ns, "link", "set", "lo", "up"]);
    run(["ip", "link", "add", node.vethHost!, "type", "veth", "peer", "name", node.vethNode!, "netns", ns]);
    run(["ip", "link", "set", node.vethHost!, "master", bridge, "up"]);
    run(["ip", "-n", ns, "addr", "add", `${node.address}/24`, "dev", node.vethNode!]);
    run(["ip", "-n", ns, "link", "set", node.vethNode!, "up"]);
  }
  const applied: AppliedShape = { ...shape };
  if (shape.delay) {
    const missing = netemMissing(topology.nodes[0]!.netns!);
    if (missing) {
      applied.delayUnavailable = missing;
      delete applied.delay;
      log.warn("--link-delay is unavailable: the links are not delayed", { delay: shape.delay, reason: missing });
    }
  }
  for (const node of topology.nodes) {
    for (const argv of [...shapeCommands(node.vethHost!, undefined, applied), ...shapeCommands(node.vethNode!, node.netns, applied)]) run(argv);
  }
  return applied;
}

/** Why netem cannot be used (this kernel lacks sch_netem), or undefined when it can. */
function netemMissing(netns: string): string | undefined {
  try {
    run(["tc", "-n", netns, "qdisc", "add", "dev", "lo", "root", "netem", "delay", "1ms"]);
    run(["tc", "-n", netns, "qdisc", "del", "dev", "lo", "root"]);
    return undefined;
  } catch (err) {
    return `tc netem: ${(err as Error).message.split(": ").pop()}`;
  }
}

/** The namespaces and interfaces of lab `id` that exist on this host. */
export function labNetworkLeftovers(id: string): { namespaces: string[]; links: string[] } {
  const namespaces = run(["ip", "netns", "list"])
    .split("\n")
    .map((l) => l.split(" ")[0]!)
    .filter((n) => n.startsWith(`photon-${id}-`));
  const links = (JSON.parse(run(["ip", "-j", "link"])) as { ifname: string }[]).map((l) => l.ifname).filter((n) => n === `phbr${id}` || n.startsWith(`ph${id}n`));
  return { namespaces, links };
}

/** The processes inside a namespace (`ip netns pids`). */
export function namespacePids(netns: string): number[] {
  return run(["ip", "netns", "pids", netns]).split("\n").filter(Boolean).map(Number);
}

/**
 * Removes lab `id`'s veths, namespaces and bridge (their qdiscs go with them). Host veth ends
 * first: deleting one removes its peer at once, where a deleted namespace's devices linger
 * until the kernel's asynchronous cleanup. The caller stops the namespaces' processes first.
 */
export function removeLabNetwork(id: string): string[] {
  const { namespaces, links } = labNetworkLeftovers(id);
  const bridge = links.filter((l) => l.startsWith("phbr"));
  for (const link of [...links.filter((l) => !l.startsWith("phbr")), ...bridge]) run(["ip", "link", "del", link]);
  for (const ns of namespaces) run(["ip", "netns", "del", ns]);
  return [...links, ...namespaces];
}
