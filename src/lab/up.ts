import { copyFileSync, existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { fetchTls, type TrustedCa } from "../http/client-tls.ts";
import { ensureDir } from "../util/fs.ts";
import type { Logger } from "../util/log.ts";
import { sleepUnlessAborted } from "../util/schedule.ts";
import { ensureTokenFile, tokenFileName } from "../util/token.ts";
import { secretsKeyFile } from "../lightningstor/metadata.ts";
import { cleanUpLab } from "./down.ts";
import { createLabNetwork, hostIpv4Addresses, removeLabNetwork } from "./network.ts";
import { createLabDatabases, labPostgresFiles, prepareLabPostgres } from "./postgres.ts";
import { findLabChildren, pdeathsigPrefix, terminate } from "./processes.ts";
import { parseDelay, parseRate } from "./shaping.ts";
import { readLabState, removeLabState, writeLabState, type LabEndpoint, type LabState } from "./state.ts";
import { logFileFor, Supervisor } from "./supervisor.ts";
import { ensureCa, issueCertificate } from "./certificates.ts";
import { computeTopology, inSubnet, labId, labTlsFiles, nodeName, parseSubnet, pickSubnet, type Topology, type TopologyOptions } from "./topology.ts";

/** What `photon lab up` starts: the topology's inputs and the links' shaping. */
export interface LabConfig extends Omit<TopologyOptions, "subnet" | "postgresPassword"> {
  /** netns: `198.18.N.0/24`; default a free one (see {@link pickSubnet}). */
  subnet?: string;
  linkRate?: string;
  linkDelay?: string;
}

/** A running lab: its state (as written to the lab dir), and how to stop it. */
export interface RunningLab {
  state: LabState;
  stop(): Promise<void>;
}

/**
 * Starts node01 (controller, nbd-export, s3-gateway, agent) and node02..nodeNN (agents), each
 * node with its own address and data dir under `dir`: in netns mode a namespace per node on a
 * bridge the lab creates, with shaped links. Nodes share nothing but the network; the token
 * file is provisioned into each node's dir like an operator would copy it. Leftovers of a lab
 * that died in `dir` are removed first. `signal` abandons a start in progress. With
 * `metadata: "postgres"`, node01 first runs a PostgreSQL (kept in its data dir) that the
 * controller and the gateways of node01 and node02 share.
 */
export async function labUp(config: LabConfig, log: Logger, signal: AbortSignal): Promise<RunningLab> {
  const running = readLabState(config.dir);
  if (running) throw new Error(`a lab is already running in ${config.dir} (pid ${running.pid}); stop it with photon lab down --dir ${config.dir}`);
  if (config.linkRate) parseRate(config.linkRate);
  if (config.linkDelay) parseDelay(config.linkDelay);
  const removed = await cleanUpLab(config.dir);
  if (removed.length > 0) log.warn("removed the leftovers of a lab that did not stop", { removed });

  const postgresPassword = config.metadata === "postgres" ? prepareLabPostgres(config.dir, labPostgresFiles(join(config.dir, nodeName(1)))) : undefined;
  const topology = computeTopology({ ...config, subnet: config.network === "netns" ? chooseSubnet(config) : undefined, postgresPassword });
  const first = topology.nodes[0]!;
  ensureDir(config.dir);
  for (const node of topology.nodes) ensureDir(node.dataDir);
  if (config.tls) makeLabCertificates(config.dir, topology);
  ensureTokenFile(first.dataDir);
  const tokenFile = join(first.dataDir, tokenFileName);
  for (const node of topology.nodes.slice(1)) {
    if (!existsSync(join(node.dataDir, tokenFileName))) copyFileSync(tokenFile, join(node.dataDir, tokenFileName));
  }

  const state = initialState(config, topology, tokenFile);
  const ca = state.ca === undefined ? undefined : readFileSync(state.ca, "utf8");
  const supervisor = new Supervisor(log, {
    prefix: pdeathsigPrefix(),
    ca,
    checkBindable: topology.network === "loopback",
    signal,
    onChange: () => save(),
  });
  const save = () => writeLabState(config.dir, { ...state, children: supervisor.status() });
  // Written before anything is created, so a `lab down` or the next `lab up` can clean up after this one.
  save();
  const stop = async () => {
    await supervisor.stopAll();
    await terminate(findLabChildren(config.dir)); // the VMs the agents started: QEMU outlives its agent

    if (topology.network === "netns") removeLabNetwork(topology.id);
    removeLabState(config.dir);
  };
  try {
    if (topology.network === "netns") {
      const applied = createLabNetwork(topology, { rate: config.linkRate, delay: config.linkDelay }, log);
      if (applied.delayUnavailable) {
        delete state.linkDelay;
        state.linkDelayUnavailable = { requested: config.linkDelay!, reason: applied.delayUnavailable };
      }
      save();
    }
    for (const service of topology.services) {
      if (signal.aborted) throw new Error(`start abandoned (${String(signal.reason)})`);
      // Another gateway on the shared database opens the secrets sealed there with the first one's key.
      if (service.mode === "s3-gateway" && service.node !== first.name) copyFileSync(join(first.dataDir, secretsKeyFile), join(topology.nodes.find((n) => n.name === service.node)!.dataDir, secretsKeyFile));
      await supervisor.start({
        ...service,
        logFile: logFileFor(config.dir, service.node, service.mode),
        netns: topology.nodes.find((n) => n.name === service.node)!.netns,
      });
      if (service.mode === "postgres") await createLabDatabases(topology.postgres!);
    }
    // The gateways start before the agents: the lab is up once S3 could store a PUT through each.
    for (const gateway of topology.gateways) await waitForS3Ready(gateway.s3Url, ca, signal);
  } catch (err) {
    await stop();
    throw err;
  }
  state.phase = "up";
  save();
  return { state: { ...state, children: supervisor.status() }, stop };
}

/** Waits until the gateway's ready probe answers 200: it knows enough storage nodes, up and answering, for a write quorum. */
async function waitForS3Ready(s3Url: string, ca: TrustedCa, signal: AbortSignal, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  const ready = () => fetch(`${s3Url}/health/ready`, { signal: AbortSignal.timeout(2_000), ...fetchTls(ca) }).then((r) => r.ok, () => false);
  while (!(await ready())) {
    if (Date.now() > deadline) throw new Error(`S3 at ${s3Url} did not become ready (enough storage nodes for a write) within ${timeoutMs / 1000} s; see the s3-gateway log`);
    if (!(await sleepUnlessAborted(200, signal))) throw new Error(`start abandoned (${String(signal.reason)})`);
  }
}

/**
 * The lab's CA (kept across runs, so clients keep trusting it), each node's certificate for its address,
 * and the CA again as `ca-cert.pem` in a directory of its own: what libnbd's `tls-certificates` and QEMU's
 * `tls-creds-x509,dir=` read.
 */
function makeLabCertificates(dir: string, topology: Topology): void {
  const files = labTlsFiles(dir);
  ensureDir(files.dir);
  const ca = ensureCa(files.dir);
  for (const node of topology.nodes) issueCertificate(ca, files.dir, node.name, [node.address, "localhost"]);
  ensureDir(files.nbdClientDir);
  copyFileSync(ca.cert, join(files.nbdClientDir, "ca-cert.pem"));
}

/** The given subnet (refused if an address on this host is in it), or a free one. */
function chooseSubnet(config: LabConfig): string {
  const addresses = hostIpv4Addresses();
  if (!config.subnet) return pickSubnet(labId(config.dir), addresses);
  parseSubnet(config.subnet);
  const clash = addresses.find((a) => inSubnet(a, config.subnet!));
  if (clash) throw new Error(`--subnet ${config.subnet}: ${clash} on this host is in it already (another lab?); choose another or leave --subnet out`);
  return config.subnet;
}

function initialState(config: LabConfig, t: Topology, tokenFile: string): LabState {
  const first = t.nodes[0]!;
  const endpoints: LabEndpoint[] = [
    ...(t.postgres ? [{ node: first.name, service: "PostgreSQL", url: t.postgres.shownUrl }] : []),
    { node: first.name, service: "controller", url: t.controllerUrl },
    { node: first.name, service: "nbd-export admin", url: t.nbdAdminUrl },
    { node: first.name, service: "nbd-export NBD", url: `${t.nbdUrl}/<volume>${config.tls ? `?tls-certificates=${labTlsFiles(config.dir).nbdClientDir}` : ""}` },
    ...t.gateways.flatMap((g) => [
      { node: g.node, service: "s3-gateway admin", url: g.adminUrl },
      { node: g.node, service: "S3", url: g.s3Url },
    ]),
    ...t.nodes.map((n) => ({ node: n.name, service: "agent", url: n.agentUrl })),
  ];
  const state: LabState = {
    pid: process.pid,
    startedAt: new Date().toISOString(),
    phase: "starting",
    network: t.network,
    id: t.id,
    nodes: t.nodes.map(({ name, address, netns, vethHost, vethNode, dataDir, agentUrl }) => ({ name, address, netns, vethHost, vethNode, dataDir, agentUrl })),
    controllerUrl: t.controllerUrl,
    nbdAdminUrl: t.nbdAdminUrl,
    nbdUrl: t.nbdUrl,
    s3Url: t.s3Url,
    s3AdminUrl: t.s3AdminUrl,
    s3Urls: t.gateways.map((g) => g.s3Url),
    metadata: t.postgres ? "postgres" : "sqlite",
    endpoints,
    tokenFile,
    s3KeyFile: join(first.dataDir, "root-key"),
    children: [],
  };
  if (t.postgres) state.postgresPasswordFile = labPostgresFiles(first.dataDir).passwordFile;
  if (config.tls) Object.assign(state, { ca: labTlsFiles(config.dir).ca, nbdTlsDir: labTlsFiles(config.dir).nbdClientDir });
  if (t.network === "netns") Object.assign(state, { subnet: t.subnet, bridge: t.bridge, hostAddress: t.hostAddress, linkRate: config.linkRate, linkDelay: config.linkDelay });
  return state;
}

export { nodeName } from "./topology.ts";
