import { existsSync, readFileSync } from "node:fs";
import { writeFileAtomic } from "../../util/fs.ts";
import type { Logger } from "../../util/log.ts";
import { sleepUnlessAborted } from "../../util/schedule.ts";
import type { Membership, StorageNode } from "./membership.ts";

/** What the controller says of a registered node (the fields of `GET /v1/nodes` used here). */
export interface RegisteredNode {
  name: string;
  /** host:port of its agent. */
  advertise: string;
  roles: string[];
  state: "up" | "down";
  scheduling: "active" | "drained";
  zone?: string | null;
  diskBytes: number;
  lastHeartbeatAt: string;
}

/** How ControllerMembership follows the controller. */
export interface ControllerMembershipOptions {
  /** Lists the registered nodes (the controller client). */
  list: (signal: AbortSignal) => Promise<RegisteredNode[]>;
  /** A node down for longer than this is lost: its copies are made again elsewhere. */
  graceMs: number;
  /** How often the controller is asked (default 2 s). */
  everyMs?: number;
  /** A file keeping the last view, used when the controller does not answer at start (a gateway restarted while it is away still finds its copies). */
  cachePath?: string;
  log: Logger;
}

const GIB = 2 ** 30;

/**
 * The storage nodes among the registered ones (the `storage` role), each
 * weighted by its disk size and `lost` once down for longer than `graceMs`
 * after its last heartbeat (by this host's clock: keep the hosts' clocks in sync).
 */
export function storageNodes(registered: readonly RegisteredNode[], now: number, graceMs: number): StorageNode[] {
  return registered
    .filter((node) => node.roles.includes("storage"))
    .map((node) => {
      const lost = node.state === "down" && now - Date.parse(node.lastHeartbeatAt) > graceMs;
      return {
        id: node.advertise.startsWith("http") ? node.advertise.replace(/\/+$/, "") : `http://${node.advertise}`,
        name: node.name,
        weight: Math.max(node.diskBytes, GIB / 1024) / GIB,
        ...(node.zone ? { zone: node.zone } : {}),
        state: lost ? "lost" : node.state,
        drained: node.scheduling === "drained",
      };
    });
}

/** What changed between two views, one line each, for the log and the listeners. */
function changes(before: readonly StorageNode[], after: readonly StorageNode[]): string[] {
  const lines: string[] = [];
  const old = new Map(before.map((node) => [node.name, node]));
  for (const node of after) {
    const was = old.get(node.name);
    old.delete(node.name);
    if (!was) lines.push(`${node.name} joined (${node.state}${node.drained ? ", drained" : ""})`);
    else {
      if (was.state !== node.state) lines.push(`${node.name} is ${node.state} (was ${was.state})`);
      if (was.drained !== node.drained) lines.push(`${node.name} is ${node.drained ? "drained" : "active again"}`);
      if (was.id !== node.id || was.zone !== node.zone) lines.push(`${node.name} moved to ${node.id}${node.zone ? ` in zone ${node.zone}` : ""}`);
    }
  }
  for (const name of old.keys()) lines.push(`${name} was removed`);
  return lines;
}

/**
 * The storage nodes as the controller knows them, asked every `everyMs`:
 * joins, drains, `down`, lost (down past the grace period) and removals are
 * followed, and each change calls the listeners (upkeep re-places copies). A
 * controller that does not answer leaves the last view in place.
 */
export class ControllerMembership implements Membership {
  private view: StorageNode[] = [];
  private readonly listeners: ((changes: string[]) => void)[] = [];
  private failing = false;

  constructor(private readonly options: ControllerMembershipOptions) {}

  nodes(): readonly StorageNode[] {
    return this.view;
  }

  /** Calls `listener` with what changed, after each change. */
  onChange(listener: (changes: string[]) => void): void {
    this.listeners.push(listener);
  }

  /** Asks the controller once; false when it did not answer. */
  async refresh(signal: AbortSignal = AbortSignal.timeout(10_000)): Promise<boolean> {
    const { log } = this.options;
    let registered: RegisteredNode[];
    try {
      registered = await this.options.list(signal);
    } catch (err) {
      if (this.view.length === 0) this.view = this.loadCache();
      if (!this.failing) log.warn("the controller does not answer; storage nodes as last known", { nodes: this.view.length, error: (err as Error).message });
      this.failing = true;
      return false;
    }
    if (this.failing) log.info("the controller answers again");
    this.failing = false;
    const next = storageNodes(registered, Date.now(), this.options.graceMs);
    const changed = changes(this.view, next);
    this.view = next;
    if (changed.length > 0) {
      log.info("storage nodes changed", { changes: changed });
      if (this.options.cachePath) writeFileAtomic(this.options.cachePath, JSON.stringify({ version: 1, nodes: next }));
      for (const listener of this.listeners) listener(changed);
    }
    return true;
  }

  /** The view last written to `cachePath`; none when there is no such file. */
  private loadCache(): StorageNode[] {
    const path = this.options.cachePath;
    if (!path || !existsSync(path)) return [];
    const cached = JSON.parse(readFileSync(path, "utf8")) as { version: number; nodes: StorageNode[] };
    if (cached.version !== 1) throw new Error(`${path}: unknown format version ${cached.version}`);
    return cached.nodes;
  }

  /** Follows the controller until `signal` aborts (the first answer is `refresh`'s to wait for). */
  async start(signal: AbortSignal): Promise<void> {
    const everyMs = this.options.everyMs ?? 2000;
    while (await sleepUnlessAborted(everyMs, signal)) await this.refresh(AbortSignal.any([signal, AbortSignal.timeout(Math.max(everyMs * 5, 10_000))]));
  }
}
