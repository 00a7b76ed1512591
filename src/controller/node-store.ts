import { and, asc, count, eq, lt } from "drizzle-orm";
import type { StoreDb } from "../db/store-db.ts";
import type { NodeRow, nodes } from "./schema.ts";

/** What an agent reports about itself when it registers or heartbeats. */
export interface NodeReport {
  name: string;
  advertise: string;
  roles: string[];
  /** Failure domain (`--zone`); absent when the agent was started without one. */
  zone?: string;
  capacity: { cpus: number; memoryBytes: number; diskBytes: number; diskFreeBytes: number };
  version: string;
}

/** Node rows in the controller's database (SQLite or PostgreSQL). */
export class NodeStore {
  constructor(private readonly store: StoreDb<{ nodes: typeof nodes }>) {}

  private get db() {
    return this.store.db;
  }

  private get nodes() {
    return this.store.tables.nodes;
  }

  list(): Promise<NodeRow[]> {
    return this.db.select().from(this.nodes).orderBy(asc(this.nodes.name));
  }

  /** Finds a node by id or by name. */
  async find(idOrName: string): Promise<NodeRow | undefined> {
    const { nodes } = this;
    const [byId] = await this.db.select().from(nodes).where(eq(nodes.id, idOrName));
    if (byId) return byId;
    const [byName] = await this.db.select().from(nodes).where(eq(nodes.name, idOrName));
    return byName;
  }

  /**
   * Registers a node, or refreshes it when the name is known: a re-registering
   * agent (restart, or after the controller forgot it) keeps its id and its
   * scheduling state.
   */
  register(report: NodeReport, now: Date): Promise<{ node: NodeRow; created: boolean }> {
    const { nodes } = this;
    const fields = { ...reportFields(report), state: "up" as const, lastHeartbeatAt: now };
    return this.store.transaction(async (tx) => {
      const [existing] = await tx.select().from(nodes).where(eq(nodes.name, report.name));
      if (existing) {
        const [node] = await tx.update(nodes).set(fields).where(eq(nodes.id, existing.id)).returning();
        return { node: node!, created: false };
      }
      const [node] = await tx
        .insert(nodes)
        .values({ id: crypto.randomUUID(), ...fields, scheduling: "active", registeredAt: now })
        .returning();
      return { node: node!, created: true };
    }, [`node:${report.name}`]);
  }

  /** Records a heartbeat; undefined when the node is unknown. */
  async heartbeat(id: string, report: NodeReport, now: Date): Promise<NodeRow | undefined> {
    const { nodes } = this;
    const [node] = await this.store.write((db) =>
      db
        .update(nodes)
        .set({ ...reportFields(report), state: "up", lastHeartbeatAt: now })
        .where(eq(nodes.id, id))
        .returning(),
    );
    return node;
  }

  async setScheduling(id: string, scheduling: NodeRow["scheduling"]): Promise<NodeRow | undefined> {
    const { nodes } = this;
    const [node] = await this.store.write((db) => db.update(nodes).set({ scheduling }).where(eq(nodes.id, id)).returning());
    return node;
  }

  async remove(id: string): Promise<boolean> {
    const { nodes } = this;
    return (await this.store.write((db) => db.delete(nodes).where(eq(nodes.id, id)).returning({ id: nodes.id }))).length > 0;
  }

  /** Marks `up` nodes whose last heartbeat is older than `cutoff` as `down`; returns them. */
  markStale(cutoff: Date): Promise<NodeRow[]> {
    const { nodes } = this;
    return this.store.write((db) =>
      db
        .update(nodes)
        .set({ state: "down" })
        .where(and(eq(nodes.state, "up"), lt(nodes.lastHeartbeatAt, cutoff)))
        .returning(),
    );
  }

  /** Node counts by liveness state. */
  async countByState(): Promise<Record<NodeRow["state"], number>> {
    const { nodes } = this;
    const rows = await this.db.select({ state: nodes.state, n: count() }).from(nodes).groupBy(nodes.state);
    const counts = { up: 0, down: 0 };
    for (const row of rows) counts[row.state] = row.n;
    return counts;
  }
}

function reportFields(report: NodeReport) {
  return {
    name: report.name,
    advertise: report.advertise,
    roles: report.roles,
    zone: report.zone ?? null,
    cpus: report.capacity.cpus,
    memoryBytes: report.capacity.memoryBytes,
    diskBytes: report.capacity.diskBytes,
    diskFreeBytes: report.capacity.diskFreeBytes,
    agentVersion: report.version,
  };
}
