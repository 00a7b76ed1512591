import { existsSync, readFileSync, rmSync } from "node:fs";
import { join } from "node:path";
import { fetchTls, type TrustedCa } from "../http/client-tls.ts";
import { writeFileAtomic } from "../util/fs.ts";
import { commandLine, isAlive } from "./processes.ts";
import type { ChildStatus } from "./supervisor.ts";

export { isAlive } from "./processes.ts";

/** One endpoint printed for the operator. */
export interface LabEndpoint {
  node: string;
  service: string;
  url: string;
}

/** One node of a running lab: where it lives and how to run a command on it. */
export interface LabNode {
  /** node01, node02, … */
  name: string;
  /** The address its services bind: 198.18.x.y in a namespace, 127.0.1.N on loopback. */
  address: string;
  /** Its network namespace (`--network netns`); undefined on loopback. */
  netns?: string;
  /** netns: its veth's ends on the host (on the lab's bridge) and inside the namespace. */
  vethHost?: string;
  vethNode?: string;
  dataDir: string;
  /** Its agent's admin API. */
  agentUrl: string;
}

/** What a running lab leaves in its directory for `lab status`, `lab down` and `lab bench-storage`. */
export interface LabState {
  /** The `lab up` process. */
  pid: number;
  startedAt: string;
  /** "starting" until every service is healthy; the file exists from the first thing `lab up` creates. */
  phase: "starting" | "up";
  network: "netns" | "loopback";
  /** Short hash of the lab dir naming its namespaces (`photon-<id>-nodeNN`), bridge and veths. */
  id: string;
  /** netns: the lab's /24, its bridge, and the host's address on it. */
  subnet?: string;
  bridge?: string;
  hostAddress?: string;
  /** tc shaping on each node's link, as given (`1gbit`, `0.2ms`); undefined when unshaped. */
  linkRate?: string;
  linkDelay?: string;
  /** A `--link-delay` that was asked for but could not be applied (the kernel lacks sch_netem), and why. */
  linkDelayUnavailable?: { requested: string; reason: string };
  nodes: LabNode[];
  controllerUrl: string;
  nbdAdminUrl: string;
  /** The central export over TCP, `nbd://host:port`, or `nbds://host:port` in a TLS lab (append `/<volume>`). */
  nbdUrl: string;
  /** node01's gateway. */
  s3Url: string;
  s3AdminUrl: string;
  /** Every gateway of the one namespace, node01's first (two with PostgreSQL); labs before it had only {@link s3Url}. */
  s3Urls?: string[];
  /** Where the controller and gateways keep their metadata (`lab up --metadata`); undefined means sqlite. */
  metadata?: "sqlite" | "postgres";
  /** PostgreSQL: the file with the password of the services' role. */
  postgresPasswordFile?: string;
  endpoints: LabEndpoint[];
  tokenFile: string;
  s3KeyFile: string;
  /** `lab up --tls`: the lab CA every service's certificate is signed by (clients pass it as --ca). */
  ca?: string;
  /** `lab up --tls`: the NBD clients' `tls-certificates` directory (the lab CA as `ca-cert.pem`), see {@link nbdClientUri}. */
  nbdTlsDir?: string;
  /** Every service process, its PID and restarts: `lab down` stops these even if `lab up` died. */
  children: ChildStatus[];
}

/**
 * The URI of `volume` on the lab's central export for libnbd clients (nbdinfo,
 * nbdcopy, fio's nbd engine) and Photon's: in a TLS lab `nbds://` with the
 * lab CA's `tls-certificates` directory.
 */
export function nbdClientUri(state: Pick<LabState, "nbdUrl" | "nbdTlsDir">, volume: string): string {
  const uri = `${state.nbdUrl}/${encodeURIComponent(volume)}`;
  return state.nbdTlsDir === undefined ? uri : `${uri}?tls-certificates=${state.nbdTlsDir}`;
}

/** `argv` as run on `node`: inside its namespace when it has one. */
export function onNode(node: LabNode, argv: string[]): string[] {
  return node.netns ? ["ip", "netns", "exec", node.netns, ...argv] : argv;
}

const stateFile = (dir: string) => join(dir, "lab.json");

export function writeLabState(dir: string, state: LabState): void {
  writeFileAtomic(stateFile(dir), JSON.stringify(state, null, 2) + "\n");
}

export function removeLabState(dir: string): void {
  rmSync(stateFile(dir), { force: true });
}

/** The state of the lab running in `dir`; undefined when none is (a state file whose process is gone is stale). */
export function readLabState(dir: string): LabState | undefined {
  const state = readLabStateFile(dir);
  return state && labProcessAlive(state.pid) ? state : undefined;
}

/** The state file as last written, whether or not its lab still runs (for cleaning up after one that died). */
export function readLabStateFile(dir: string): LabState | undefined {
  if (!existsSync(stateFile(dir))) return undefined;
  return JSON.parse(readFileSync(stateFile(dir), "utf8")) as LabState;
}

/** Whether `pid` is alive and still a `photon lab` process (not a recycled PID). */
function labProcessAlive(pid: number): boolean {
  if (!isAlive(pid)) return false;
  const argv = commandLine(pid);
  return argv === undefined || argv.includes("lab");
}

/** The S3 endpoints of a lab's gateways, node01's first. */
export function s3Endpoints(state: Pick<LabState, "s3Url" | "s3Urls">): string[] {
  return state.s3Urls ?? [state.s3Url];
}

/** TCP ports of the endpoints checked by a connection alone. */
const tcpOnly: Record<string, number> = { "nbd:": 10809, "nbds:": 10809, "postgres:": 5432 };

/** Whether an endpoint answers: an HTTP response of any status, or a TCP connection for NBD and PostgreSQL. */
export async function endpointUp(url: string, ca?: TrustedCa): Promise<boolean> {
  const parsed = new URL(url.replace("/<volume>", "/"));
  const defaultPort = tcpOnly[parsed.protocol];
  if (defaultPort !== undefined) {
    try {
      (await Bun.connect({ hostname: parsed.hostname, port: Number(parsed.port || defaultPort), socket: { data() {} } })).end();
      return true;
    } catch {
      return false; // refused or unreachable: the answer asked for, not a failure of the check
    }
  }
  const path = url.endsWith("/") ? "healthz" : "/healthz";
  return fetch(url + path, { signal: AbortSignal.timeout(2000), ...fetchTls(ca) }).then(
    () => true,
    () => false,
  );
}
