import { and, asc, eq, lt, sql } from "drizzle-orm";
import type { BunSQLiteDatabase } from "drizzle-orm/bun-sqlite";
import { nodes, type NodeRow } from "./schema.ts";

type Db = BunSQLiteDatabase<{ nodes: typeof nodes }>;

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

/** Node rows in the controller's database. */
export class NodeStore {
  constructor(private readonly db: Db) {}

  list(): NodeRow[] {
    return this.db.select().from(nodes).orderBy(asc(nodes.name)).all();
  }

  /** Finds a node by id or by name. */
  find(idOrName: string): NodeRow | undefined {
    return (
      this.db.select().from(nodes).where(eq(nodes.id, idOrName)).get() ??
      this.db.select().from(nodes).where(eq(nodes.name, idOrName)).get()
    );
  }

  /**
   * Registers a node, or refreshes it when the name is known: a re-registering
   * agent (restart, or after the controller forgot it) keeps its id and its
   * scheduling state.
   */
  register(report: NodeReport, now: Date): { node: NodeRow; created: boolean } {
    const existing = this.db.select().from(nodes).where(eq(nodes.name, report.name)).get();
    const fields = { ...reportFields(report), state: "up" as const, lastHeartbeatAt: now };
    if (existing) {
      const node = this.db.update(nodes).set(fields).where(eq(nodes.id, existing.id)).returning().get();
      return { node, created: false };
    }
    const node = this.db
      .insert(nodes)
      .values({ id: crypto.randomUUID(), ...fields, scheduling: "active", registeredAt: now })
      .returning()
      .get();
    return { node, created: true };
  }

  /** Records a heartbeat; undefined when the node is unknown. */
  heartbeat(id: string, report: NodeReport, now: Date): NodeRow | undefined {
    return this.db
      .update(nodes)
      .set({ ...reportFields(report), state: "up", lastHeartbeatAt: now })
      .where(eq(nodes.id, id))
      .returning()
      .get();
  }

  setScheduling(id: string, scheduling: NodeRow["scheduling"]): NodeRow | undefined {
    return this.db.update(nodes).set({ scheduling }).where(eq(nodes.id, id)).returning().get();
  }

  remove(id: string): boolean {
    return this.db.delete(nodes).where(eq(nodes.id, id)).returning({ id: nodes.id }).all().length > 0;
  }

  /** Marks `up` nodes whose last heartbeat is older than `cutoff` as `down`; returns them. */
  markStale(cutoff: Date): NodeRow[] {
    return this.db
      .update(nodes)
      .set({ state: "down" })
      .where(and(eq(nodes.state, "up"), lt(nodes.lastHeartbeatAt, cutoff)))
      .returning()
      .all();
  }

  /** Node counts by liveness state. */
  countByState(): Record<NodeRow["state"], number> {
    const rows = this.db.select({ state: nodes.state, n: sql<number>`count(*)` }).from(nodes).groupBy(nodes.state).all();
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
