import type { NodeReport } from "./node-store.ts";

export type { NodeReport };
import type { nodeJson } from "./node-routes.ts";
import { AdminClient } from "../http/admin-client.ts";
import type { ClusterStatus } from "./status.ts";

/** A node as the controller API returns it. */
export type NodeInfo = ReturnType<typeof nodeJson>;

/** The controller's node API. */
export class ControllerClient extends AdminClient {
  listNodes = () => this.request<{ nodes: NodeInfo[] }>("GET", "/v1/nodes").then((r) => r.nodes);
  getNode = (node: string) => this.request<NodeInfo>("GET", `/v1/nodes/${encodeURIComponent(node)}`);
  register = (report: NodeReport, signal?: AbortSignal) => this.request<NodeInfo>("POST", "/v1/nodes", report, signal);
  heartbeat = (id: string, report: NodeReport, signal?: AbortSignal) =>
    this.request<NodeInfo>("POST", `/v1/nodes/${encodeURIComponent(id)}/heartbeat`, report, signal);
  drain = (node: string) => this.request<NodeInfo>("POST", `/v1/nodes/${encodeURIComponent(node)}/drain`);
  undrain = (node: string) => this.request<NodeInfo>("POST", `/v1/nodes/${encodeURIComponent(node)}/undrain`);
  removeNode = (node: string) => this.request<void>("DELETE", `/v1/nodes/${encodeURIComponent(node)}`);
  /** The cluster at a glance: nodes, services and their health, volumes, images, VMs. */
  status = () => this.request<ClusterStatus>("GET", "/v1/status");
}
