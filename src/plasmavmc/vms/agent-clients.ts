import { VolumeClient } from "../../coronafs/client.ts";
import type { TokenLike } from "../../util/token.ts";
import { AdminClient } from "../../http/admin-client.ts";
import type { TrustedCa } from "../../http/client-tls.ts";

/** What the controller asks an agent's VM host to run (docs/plasmavmc-agent.md). */
export interface VmLaunch {
  name: string;
  cpus: number;
  memoryMiB: number;
  disks: { volume: string }[];
  kernel?: string;
  initrd?: string;
  append?: string;
  network: "none" | "user";
}

/** A VM as an agent reports it. */
export interface HostedVm {
  name: string;
  state: "running" | "paused" | "stopped" | "crashed";
  pid?: number;
  accel?: string;
  attachMs?: number;
  startedAt?: string;
  firstOutputAt?: string;
  consoleTail?: string;
}

/** The VM host API of one agent (role "compute"). */
export class VmHostClient extends AdminClient {
  launch = (spec: VmLaunch) => this.request<HostedVm>("POST", "/v1/vms", spec);
  get = (name: string) => this.request<HostedVm>("GET", `/v1/vms/${encodeURIComponent(name)}`);
  stop = (name: string, force: boolean) => this.request<HostedVm>("POST", `/v1/vms/${encodeURIComponent(name)}/stop`, { force });
  reboot = (name: string) => this.request<HostedVm>("POST", `/v1/vms/${encodeURIComponent(name)}/reboot`, {});
  remove = (name: string) => this.request<void>("DELETE", `/v1/vms/${encodeURIComponent(name)}`);
  /** The serial console as the agent streams it. */
  console = async (name: string, query: URLSearchParams, signal?: AbortSignal): Promise<Response> => {
    const path = `/v1/vms/${encodeURIComponent(name)}/console?${query}`;
    const response = await this.send(path, { headers: { authorization: this.authorization() }, signal });
    if (!response.ok) await this.parse("GET", path, response);
    return response;
  };
}

/** An agent's two APIs PlasmaVMC uses: its node-local volumes and its VM host. */
export interface AgentClients {
  volumes: VolumeClient;
  vms: VmHostClient;
}

export function agentClients(advertise: string, token: TokenLike, ca?: TrustedCa): AgentClients {
  const url = advertise.startsWith("http") ? advertise : `http://${advertise}`;
  return { volumes: new VolumeClient(url, token, ca), vms: new VmHostClient(url, token, ca) };
}
