import { createHash } from "node:crypto";
import { join } from "node:path";
import { labPostgresFiles, labPostgresPlan, type LabPostgresPlan } from "./postgres.ts";
import type { LabNode } from "./state.ts";

/** How the lab's nodes are separated: a network namespace each, or an address each on loopback. */
export type LabNetwork = "netns" | "loopback";

/** The inputs of {@link computeTopology}; everything else follows from them. */
export interface TopologyOptions {
  /** The lab directory, absolute; its hash names the lab's namespaces and interfaces. */
  dir: string;
  nodes: number;
  network: LabNetwork;
  /** netns only: the lab's /24 inside 198.18.0.0/15, e.g. `198.18.7.0/24` (see {@link pickSubnet}). */
  subnet?: string;
  /** Controller port; on every node the agent listens on +1, and node01's nbd-export admin on +2, s3-gateway admin on +3. */
  basePort: number;
  nbdPort: number;
  s3Port: number;
  /** Every HTTP listener on TLS, and the central NBD export too (`--tls require`), with the certificates of {@link labTlsFiles}. */
  tls?: boolean;
  /**
   * Where the controller and the gateways keep their metadata: each in its own SQLite file (default), or in a PostgreSQL
   * on node01 (port base+4) with a second gateway on node02 sharing the first one's namespace.
   */
  metadata?: LabMetadata;
  /** `metadata: "postgres"`: the role's password (prepareLabPostgres made it). */
  postgresPassword?: string;
}

/** `lab up --metadata`. */
export type LabMetadata = "sqlite" | "postgres";

/** One node: its address, and in netns mode its namespace and the two ends of its veth. */
export interface NodePlan extends LabNode {
  /** 1-based. */
  index: number;
}

/** One process of the lab: which node runs it, its arguments, and what it must listen on. */
export interface ServicePlan {
  node: string;
  mode: "controller" | "nbd-export" | "s3-gateway" | "agent" | "postgres";
  args: string[];
  /** A program other than Photon (PostgreSQL's server): its whole argv; `args` are then empty. */
  command?: string[];
  /** Added to its environment: secrets that stay off its command line (PHOTON_METADATA with its password). */
  env?: Record<string, string>;
  /** The signal that stops it (default SIGTERM). */
  stopSignal?: NodeJS.Signals;
  /** Every TCP address it binds: free before it starts, held by it once healthy. */
  listens: { host: string; port: number }[];
  healthUrl: string;
}

/** Everything `lab up` creates, computed before it creates anything. */
export interface Topology {
  /** Short hash of the lab dir: names of this lab's namespaces, bridge and veths. */
  id: string;
  network: LabNetwork;
  /** netns: the lab's /24, its bridge and the host's address on it. */
  subnet?: string;
  bridge?: string;
  hostAddress?: string;
  nodes: NodePlan[];
  /** In start order: PostgreSQL (with --metadata postgres), the central export, the gateways, the controller, then each node's agent. */
  services: ServicePlan[];
  controllerUrl: string;
  nbdAdminUrl: string;
  nbdUrl: string;
  /** node01's gateway. */
  s3Url: string;
  s3AdminUrl: string;
  /** Every gateway serving the one namespace: node01's, and with PostgreSQL node02's too. */
  gateways: { node: string; s3Url: string; adminUrl: string }[];
  /** `--metadata postgres`: the lab's PostgreSQL. */
  postgres?: LabPostgresPlan;
}

/** The benchmarking range (RFC 2544): 512 /24s, 198.18.0.0 … 198.19.255.0. */
const rangeStart = (198 << 24) | (18 << 16);
const rangeSubnets = 512;

/** node01, node02, … */
export function nodeName(n: number): string {
  return `node${String(n).padStart(2, "0")}`;
}

/** 6 hex chars of the lab dir's SHA-256: two labs in different dirs get different names. */
export function labId(dir: string): string {
  return createHash("sha256").update(dir).digest("hex").slice(0, 6);
}

/** The index (0..511) of a `198.18.N.0/24` or `198.19.N.0/24`; throws on anything else. */
export function parseSubnet(subnet: string): number {
  const match = /^198\.(18|19)\.(\d{1,3})\.0\/24$/.exec(subnet);
  const third = Number(match?.[2]);
  if (!match || third > 255) throw new Error(`--subnet: expected 198.18.N.0/24 or 198.19.N.0/24 (the benchmarking range 198.18.0.0/15), got ${subnet}`);
  return (Number(match[1]) - 18) * 256 + third;
}

/** The /24 with `index` (0..511) inside 198.18.0.0/15. */
export function subnetAt(index: number): string {
  return `${intToIp(rangeStart + index * 256)}/24`;
}

/**
 * The lab's default /24: the first one from the lab id's own (so two labs do not race for
 * the same) that holds none of `hostAddresses` (the IPv4 addresses on this host's interfaces).
 */
export function pickSubnet(id: string, hostAddresses: readonly string[]): string {
  const taken = new Set(hostAddresses.map(subnetIndexOf).filter((i) => i !== undefined));
  const first = parseInt(id, 16) % rangeSubnets;
  for (let k = 0; k < rangeSubnets; k++) {
    const index = (first + k) % rangeSubnets;
    if (!taken.has(index)) return subnetAt(index);
  }
  throw new Error("every /24 of 198.18.0.0/15 is in use on this host");
}

/** Whether `address` lies in `subnet` (a 198.18.0.0/15 /24). */
export function inSubnet(address: string, subnet: string): boolean {
  return subnetIndexOf(address) === parseSubnet(subnet);
}

/** Where a TLS lab keeps its CA and each node's certificate (made by `lab up --tls`). */
export interface LabTlsFiles {
  dir: string;
  ca: string;
  cert(node: string): string;
  key(node: string): string;
  /** NBD clients' `tls-certificates` directory (libnbd's URIs, QEMU's `tls-creds-x509,dir=`): the CA as `ca-cert.pem`. */
  nbdClientDir: string;
}

/** The files of {@link LabTlsFiles} under `dir/tls`. */
export function labTlsFiles(dir: string): LabTlsFiles {
  const tlsDir = join(dir, "tls");
  return {
    dir: tlsDir,
    ca: join(tlsDir, "ca.pem"),
    cert: (node) => join(tlsDir, `${node}.pem`),
    key: (node) => join(tlsDir, `${node}-key.pem`),
    nbdClientDir: join(tlsDir, "nbd-client"),
  };
}

/** Linux's limit on interface names (IFNAMSIZ - 1). */
export const maxInterfaceName = 15;

/** The nodes, their addresses and names, and every service's arguments, for `lab up`. */
export function computeTopology(options: TopologyOptions): Topology {
  const id = labId(options.dir);
  const netns = options.network === "netns";
  if (netns && !options.subnet) throw new Error("netns topology needs a subnet");
  const http = options.tls ? "https" : "http";
  const files = labTlsFiles(options.dir);
  // TLS: each node's listeners present its certificate; its clients trust the lab CA.
  const serverTls = (node: NodePlan) => (options.tls ? ["--tls-cert", files.cert(node.name), "--tls-key", files.key(node.name)] : []);
  const clientTls = options.tls ? ["--ca", files.ca] : [];
  // The central export requires NBD TLS with node01's certificate; it verifies its own nbds:// URI with --ca when it builds image bases.
  const nbdTls = options.tls ? ["--tls", "require", ...clientTls] : [];
  const base = netns ? rangeStart + parseSubnet(options.subnet!) * 256 : 0;
  const nodes: NodePlan[] = Array.from({ length: options.nodes }, (_, i) => {
    const index = i + 1;
    const name = nodeName(index);
    const address = netns ? intToIp(base + 10 + index) : `127.0.1.${index}`;
    const node: NodePlan = { index, name, address, dataDir: join(options.dir, name), agentUrl: url(http, address, options.basePort + 1) };
    if (netns) Object.assign(node, { netns: `photon-${id}-${name}`, vethHost: `ph${id}n${String(index).padStart(2, "0")}`, vethNode: "eth0" });
    return node;
  });
  const first = nodes[0]!;
  const at = (port: number) => ({ host: first.address, port });
  const controller = at(options.basePort);
  const nbdAdmin = at(options.basePort + 2);
  const nbd = at(options.nbdPort);
  const controllerUrl = url(http, controller.host, controller.port);
  const nbdAdminUrl = url(http, nbdAdmin.host, nbdAdmin.port);
  const postgres = options.metadata === "postgres" ? labPostgresPlan(labPostgresFiles(first.dataDir), first.address, options.basePort + 4, options.postgresPassword!) : undefined;
  // A shared namespace (PostgreSQL) is served by node01's and node02's gateways; SQLite is node01's alone.
  const gatewayNodes = postgres ? nodes.slice(0, 2) : [first];
  const gateways = gatewayNodes.map((node) => ({ node, s3: { host: node.address, port: options.s3Port }, admin: { host: node.address, port: options.basePort + 3 } }));
  const dataDir = (node: NodePlan) => ["--data-dir", node.dataDir, ...serverTls(node)];
  const s3Url = url(http, first.address, options.s3Port);
  const s3AdminUrl = url(http, first.address, options.basePort + 3);
  const metadataEnv = (db: "controller" | "s3") => (postgres ? { env: { PHOTON_METADATA: postgres.urls[db] } } : {});
  const services: ServicePlan[] = [
    ...(postgres
      ? [{ node: first.name, mode: "postgres" as const, args: [], command: postgres.command, listens: [postgres.listen], healthUrl: postgres.adminUrl, stopSignal: "SIGINT" as const }]
      : []),
    // node01 also runs the central CoronaFS export (the "controller export" of the seed report).
    {
      node: first.name,
      mode: "nbd-export",
      args: [...dataDir(first), "--admin", hostPort(nbdAdmin), "--listen", hostPort(nbd), "--socket", join(first.dataDir, "nbd.sock"), ...nbdTls],
      listens: [nbdAdmin, nbd],
      healthUrl: `${nbdAdminUrl}/healthz`,
    },
    // …and the S3 gateway(s), chunks replicated over the agents the controller knows with the storage role
    // (every node's; a gateway follows them as they register, whichever starts first).
    ...gateways.map(({ node, s3, admin }): ServicePlan => ({
      node: node.name,
      mode: "s3-gateway",
      args: [...dataDir(node), "--admin", hostPort(admin), "--listen", hostPort(s3), "--controller", controllerUrl, "--replicas", String(Math.min(3, nodes.length)), ...clientTls],
      listens: [admin, s3],
      healthUrl: `${url(http, admin.host, admin.port)}/healthz`,
      ...metadataEnv("s3"),
    })),
    // The controller orchestrates PlasmaVMC over both: volumes and image bases on the central export,
    // image artifacts in the gateway's bucket under the root key the gateway wrote on its first start.
    {
      node: first.name,
      mode: "controller",
      args: [
        ...dataDir(first), "--listen", hostPort(controller),
        "--coronafs", nbdAdminUrl, "--s3-endpoint", s3Url, "--s3-key-file", join(first.dataDir, "root-key"), "--s3-admin", s3AdminUrl, ...clientTls,
      ],
      listens: [controller],
      healthUrl: `${controllerUrl}/healthz`,
      ...metadataEnv("controller"),
    },
    ...nodes.map((node): ServicePlan => {
      const listen = { host: node.address, port: options.basePort + 1 };
      return {
        node: node.name,
        mode: "agent",
        args: [...dataDir(node), "--listen", hostPort(listen), "--advertise", hostPort(listen), "--controller", controllerUrl, "--name", node.name, ...clientTls],
        listens: [listen],
        healthUrl: `${node.agentUrl}/healthz`,
      };
    }),
  ];
  const topology: Topology = {
    id, network: options.network, nodes, services, controllerUrl, nbdAdminUrl, nbdUrl: url(options.tls ? "nbds" : "nbd", nbd.host, nbd.port), s3Url, s3AdminUrl,
    gateways: gateways.map(({ node, s3, admin }) => ({ node: node.name, s3Url: url(http, s3.host, s3.port), adminUrl: url(http, admin.host, admin.port) })),
  };
  if (postgres) topology.postgres = postgres;
  if (netns) Object.assign(topology, { subnet: options.subnet, bridge: `phbr${id}`, hostAddress: intToIp(base + 1) });
  return topology;
}

function url(scheme: string, host: string, port: number): string {
  return `${scheme}://${host}:${port}`;
}

function hostPort(a: { host: string; port: number }): string {
  return `${a.host}:${a.port}`;
}

function intToIp(n: number): string {
  return [n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255].join(".");
}

/** The /24 index of an address inside 198.18.0.0/15, undefined outside it. */
function subnetIndexOf(address: string): number | undefined {
  const parts = address.split(".").map(Number);
  if (parts.length !== 4 || parts[0] !== 198 || (parts[1] !== 18 && parts[1] !== 19)) return undefined;
  return (parts[1]! - 18) * 256 + parts[2]!;
}
