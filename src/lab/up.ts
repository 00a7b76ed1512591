import { copyFileSync, existsSync } from "node:fs";
import { join } from "node:path";
import { ensureDir } from "../util/fs.ts";
import type { Logger } from "../util/log.ts";
import { ensureTokenFile, tokenFileName } from "../util/token.ts";
import { readLabState, removeLabState, writeLabState, type LabEndpoint } from "./state.ts";
import { logFileFor, Supervisor, type LabProcess } from "./supervisor.ts";

/** What `photon lab up` starts. */
export interface LabConfig {
  dir: string;
  nodes: number;
  /** The controller listens on basePort, node01's nbd-export admin on +2, its s3-gateway admin on +3, node N's agent on +10+N. */
  basePort: number;
  nbdPort: number;
  s3Port: number;
}

/** A running lab: its endpoints, where the token and the S3 root key are, and how to stop it. */
export interface RunningLab {
  endpoints: LabEndpoint[];
  tokenFile: string;
  s3KeyFile: string;
  stop(): Promise<void>;
}

/**
 * Starts node01 (controller, nbd-export, s3-gateway, agent) and node02..nodeNN (agents) on this
 * machine, each node with its own data dir under `dir`. Nodes share nothing
 * but loopback; the token file is provisioned into each node's dir like an
 * operator would copy it.
 */
export async function labUp(config: LabConfig, log: Logger): Promise<RunningLab> {
  const running = readLabState(config.dir);
  if (running) throw new Error(`a lab is already running in ${config.dir} (pid ${running.pid}); stop it with photon lab down --dir ${config.dir}`);
  const supervisor = new Supervisor(log);
  const nodeDir = (n: number) => join(config.dir, nodeName(n));
  ensureDir(nodeDir(1));
  ensureTokenFile(nodeDir(1));
  const tokenFile = join(nodeDir(1), tokenFileName);
  const controllerUrl = `http://127.0.0.1:${config.basePort}`;
  const endpoints: LabEndpoint[] = [{ node: nodeName(1), service: "controller", url: controllerUrl }];
  const agentUrl = (n: number) => `http://127.0.0.1:${config.basePort + 10 + n}`;
  const spec = (n: number, mode: string, args: string[], url: string): LabProcess => ({
    node: nodeName(n),
    mode,
    args: ["--data-dir", nodeDir(n), ...args],
    healthUrl: `${url}/healthz`,
    logFile: logFileFor(config.dir, nodeName(n), mode),
  });

  try {
    await supervisor.start(spec(1, "controller", ["--listen", `127.0.0.1:${config.basePort}`], controllerUrl));
    // node01 also runs the central CoronaFS export (the "controller export" of the seed report).
    const nbdAdmin = `http://127.0.0.1:${config.basePort + 2}`;
    const nbdArgs = ["--admin", `127.0.0.1:${config.basePort + 2}`, "--listen", `127.0.0.1:${config.nbdPort}`, "--socket", join(nodeDir(1), "nbd.sock")];
    await supervisor.start(spec(1, "nbd-export", nbdArgs, nbdAdmin));
    endpoints.push({ node: nodeName(1), service: "nbd-export admin", url: nbdAdmin });
    endpoints.push({ node: nodeName(1), service: "nbd-export NBD", url: `nbd://127.0.0.1:${config.nbdPort}/<volume>` });
    // node01 also runs the S3 gateway, storing chunks on every node's agent (up to three copies);
    // its root key is written to node01/root-key on first start.
    const s3Admin = `http://127.0.0.1:${config.basePort + 3}`;
    const storageNodes = Array.from({ length: config.nodes }, (_, i) => agentUrl(i + 1)).join(",");
    const s3Args = ["--admin", `127.0.0.1:${config.basePort + 3}`, "--listen", `127.0.0.1:${config.s3Port}`, "--storage-nodes", storageNodes];
    await supervisor.start(spec(1, "s3-gateway", s3Args, s3Admin));
    endpoints.push({ node: nodeName(1), service: "s3-gateway admin", url: s3Admin });
    endpoints.push({ node: nodeName(1), service: "S3", url: `http://127.0.0.1:${config.s3Port}` });
    for (let n = 1; n <= config.nodes; n++) {
      ensureDir(nodeDir(n));
      if (!existsSync(join(nodeDir(n), tokenFileName))) copyFileSync(tokenFile, join(nodeDir(n), tokenFileName));
      const url = agentUrl(n);
      const args = ["--listen", new URL(url).host, "--controller", controllerUrl, "--name", nodeName(n)];
      await supervisor.start(spec(n, "agent", args, url));
      endpoints.push({ node: nodeName(n), service: "agent", url });
    }
  } catch (err) {
    await supervisor.stopAll();
    throw err;
  }
  const s3KeyFile = join(nodeDir(1), "root-key");
  const nodes = Array.from({ length: config.nodes }, (_, i) => ({ name: nodeName(i + 1), address: "127.0.0.1", dataDir: nodeDir(i + 1), agentUrl: agentUrl(i + 1) }));
  writeLabState(config.dir, {
    pid: process.pid,
    startedAt: new Date().toISOString(),
    network: "loopback",
    nodes,
    controllerUrl,
    nbdAdminUrl: `http://127.0.0.1:${config.basePort + 2}`,
    nbdUrl: `nbd://127.0.0.1:${config.nbdPort}`,
    s3Url: `http://127.0.0.1:${config.s3Port}`,
    endpoints,
    tokenFile,
    s3KeyFile,
  });
  return {
    endpoints,
    tokenFile,
    s3KeyFile,
    async stop() {
      await supervisor.stopAll();
      removeLabState(config.dir);
    },
  };
}

/** node01, node02, … */
export function nodeName(n: number): string {
  return `node${String(n).padStart(2, "0")}`;
}
