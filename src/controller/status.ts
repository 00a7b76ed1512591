import { VolumeClient } from "../coronafs/client.ts";
import { sentToken, type TokenLike } from "../util/token.ts";
import { fetchTls, type TrustedCa } from "../http/client-tls.ts";
import type { VolumeInfo } from "../coronafs/volumes/json.ts";
import type { NodeRow } from "./schema.ts";

/** How a service answered its health check. */
export type ServiceHealth = "ok" | "unreachable" | "failing";

/** One service of the cluster and how it is doing. */
export interface ServiceStatus {
  service: "controller" | "nbd-export" | "s3" | "s3-gateway admin" | "agent";
  /** The node an agent runs on. */
  node?: string;
  url: string;
  health: ServiceHealth;
  /** Why it is not ok. */
  detail?: string;
}

/** The cluster at a glance, as `GET /v1/status` answers and `photon status` shows it. */
export interface ClusterStatus {
  /** ok when every node is up and every service answers; degraded otherwise. */
  health: "ok" | "degraded";
  nodes: Pick<NodeRow, "name" | "state" | "scheduling" | "roles" | "advertise" | "cpus" | "memoryBytes" | "diskBytes" | "diskFreeBytes">[];
  services: ServiceStatus[];
  /** The central store's volumes (bases and clones included); undefined without `--coronafs` or when it does not answer. */
  volumes?: { count: number; bytes: number };
  images: { count: number; bytes: number };
  vms: { count: number; running: number };
  /** LightningStor's replication health from the gateway's `/metrics`; undefined without `--s3-admin` or when it does not answer. */
  replication?: { underReplicated: number; repairing: number; unhealthyNodes: number };
}

/** What the status is gathered from. */
export interface StatusSources {
  /** This controller's own URL, as the request reached it. */
  selfUrl: string;
  token: TokenLike;
  nodes(): Promise<NodeRow[]>;
  coronafsUrl?: string;
  s3Endpoint?: string;
  /** The s3-gateway's admin API, whose `/metrics` has the replication figures. */
  s3AdminUrl?: string;
  /** PlasmaVMC's figures from the controller's database. */
  counts(): Promise<{ images: { count: number; bytes: number }; vms: { count: number; running: number } }>;
  /** How long one probe may take. */
  timeoutMs?: number;
  /** The CA https:// services are verified against. */
  ca?: TrustedCa;
}

/**
 * Asks every service the controller knows of, in parallel, how it is
 * doing: the central nbd-export (`/healthz`, then its volumes), the S3
 * endpoint (any HTTP answer counts: it is up), each node's agent
 * (`/healthz` at its advertised address). Only what answers is reported;
 * a probe that fails says why instead.
 */
export async function collectStatus(sources: StatusSources): Promise<ClusterStatus> {
  const timeoutMs = sources.timeoutMs ?? 2000;
  const nodes = await sources.nodes();
  const probe = async (url: string, init: RequestInit = {}, anyAnswer = false): Promise<{ health: ServiceHealth; detail?: string; response?: Response }> => {
    try {
      const response = await fetch(url, { ...init, signal: AbortSignal.timeout(timeoutMs), ...fetchTls(sources.ca) });
      if (response.ok || anyAnswer) return { health: "ok", response };
      return { health: "failing", detail: `HTTP ${response.status}` };
    } catch (err) {
      return { health: "unreachable", detail: (err as Error).message };
    }
  };
  const service = async (status: Omit<ServiceStatus, "health">, healthUrl: string, anyAnswer = false): Promise<ServiceStatus> => {
    const { health, detail, response } = await probe(healthUrl, {}, anyAnswer);
    await response?.body?.cancel();
    return { ...status, health, ...(detail === undefined ? {} : { detail }) };
  };
  const checks: Promise<ServiceStatus>[] = [Promise.resolve({ service: "controller", url: sources.selfUrl, health: "ok" })];
  if (sources.coronafsUrl) checks.push(service({ service: "nbd-export", url: sources.coronafsUrl }, `${sources.coronafsUrl}/healthz`));
  if (sources.s3Endpoint) checks.push(service({ service: "s3", url: sources.s3Endpoint }, sources.s3Endpoint, true));
  for (const node of nodes) {
    const url = node.advertise.startsWith("http") ? node.advertise : `http://${node.advertise}`;
    checks.push(service({ service: "agent", node: node.name, url }, `${url}/healthz`));
  }
  const [services, volumes, replication] = await Promise.all([
    Promise.all(checks),
    sources.coronafsUrl ? volumeTotals(sources.coronafsUrl, sources.token, timeoutMs, sources.ca) : undefined,
    sources.s3AdminUrl ? replicationHealth(sources.s3AdminUrl, sources.token, timeoutMs, sources.ca) : undefined,
  ]);
  if (sources.s3AdminUrl) {
    const failed = replication instanceof Error ? { health: "unreachable" as const, detail: replication.message } : { health: "ok" as const };
    services.push({ service: "s3-gateway admin", url: sources.s3AdminUrl, ...failed });
  }
  if (volumes instanceof Error) {
    const exporter = services.find((s) => s.service === "nbd-export");
    if (exporter?.health === "ok") Object.assign(exporter, { health: "failing", detail: `listing volumes: ${volumes.message}` });
  }
  const healthy = services.every((s) => s.health === "ok") && nodes.every((n) => n.state === "up");
  return {
    health: healthy ? "ok" : "degraded",
    nodes: nodes.map(({ name, state, scheduling, roles, advertise, cpus, memoryBytes, diskBytes, diskFreeBytes }) => ({
      name,
      state,
      scheduling,
      roles,
      advertise,
      cpus,
      memoryBytes,
      diskBytes,
      diskFreeBytes,
    })),
    services,
    ...(volumes && !(volumes instanceof Error) ? { volumes } : {}),
    ...(replication && !(replication instanceof Error) ? { replication } : {}),
    ...(await sources.counts()),
  };
}

/** The count and provisioned bytes of the central store's volumes, or why they could not be listed. */
async function volumeTotals(coronafsUrl: string, token: TokenLike, timeoutMs: number, ca: TrustedCa): Promise<{ count: number; bytes: number } | Error> {
  try {
    const { volumes } = await new VolumeClient(coronafsUrl, token, ca).request<{ volumes: VolumeInfo[] }>("GET", "/v1/volumes", undefined, AbortSignal.timeout(timeoutMs));
    return { count: volumes.length, bytes: volumes.reduce((sum, v) => sum + v.sizeBytes, 0) };
  } catch (err) {
    return err as Error;
  }
}

/** The gateway's replication gauges (a replica-less gateway has none: all zero), or why they could not be read. */
async function replicationHealth(adminUrl: string, token: TokenLike, timeoutMs: number, ca: TrustedCa): Promise<ClusterStatus["replication"] | Error> {
  try {
    const response = await fetch(`${adminUrl}/metrics`, { headers: { authorization: `Bearer ${sentToken(token)}` }, signal: AbortSignal.timeout(timeoutMs), ...fetchTls(ca) });
    if (!response.ok) return new Error(`HTTP ${response.status} from ${adminUrl}/metrics`);
    const text = await response.text();
    const gauge = (name: string) => Number(new RegExp(`^${name}(?:\\{[^}]*\\})? (\\S+)$`, "m").exec(text)?.[1] ?? 0);
    return { underReplicated: gauge("photon_chunks_under_replicated"), repairing: gauge("photon_chunks_repairing"), unhealthyNodes: gauge("photon_chunk_nodes_unhealthy") };
  } catch (err) {
    return err as Error;
  }
}
