import { existsSync, readFileSync, rmSync } from "node:fs";
import { join } from "node:path";
import { writeFileAtomic } from "../util/fs.ts";

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
  dataDir: string;
  /** Its agent's admin API. */
  agentUrl: string;
}

/** What a running lab leaves in its directory for `lab status`, `lab down` and `lab bench-storage`. */
export interface LabState {
  pid: number;
  startedAt: string;
  network: "netns" | "loopback";
  /** tc shaping on each node's link, as given (`1gbit`, `0.2ms`); undefined when unshaped. */
  linkRate?: string;
  linkDelay?: string;
  nodes: LabNode[];
  controllerUrl: string;
  nbdAdminUrl: string;
  /** The central export over TCP, `nbd://host:port` (append `/<volume>`). */
  nbdUrl: string;
  s3Url: string;
  endpoints: LabEndpoint[];
  tokenFile: string;
  s3KeyFile: string;
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
  if (!existsSync(stateFile(dir))) return undefined;
  const state = JSON.parse(readFileSync(stateFile(dir), "utf8")) as LabState;
  return isAlive(state.pid) ? state : undefined;
}

export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as { code?: string }).code === "EPERM";
  }
}

/** Whether an endpoint answers: an HTTP response of any status, or a TCP connection for NBD. */
export async function endpointUp(url: string): Promise<boolean> {
  const parsed = new URL(url.replace("/<volume>", "/"));
  if (parsed.protocol === "nbd:") {
    const socket = await Bun.connect({ hostname: parsed.hostname, port: Number(parsed.port || 10809), socket: { data() {} } }).catch(() => undefined);
    socket?.end();
    return socket !== undefined;
  }
  const path = url.endsWith("/") ? "healthz" : "/healthz";
  return fetch(url + path, { signal: AbortSignal.timeout(2000) }).then(
    () => true,
    () => false,
  );
}
