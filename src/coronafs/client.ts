import { AdminClient } from "../http/admin-client.ts";
import type { VolumeInfo } from "./volumes/json.ts";

/** The volume API of an nbd-export (or of the controller, which serves the same routes). */
export class VolumeClient extends AdminClient {
  list = () => this.request<{ volumes: VolumeInfo[] }>("GET", "/v1/volumes").then((r) => r.volumes);
  get = (name: string) => this.request<VolumeInfo>("GET", `/v1/volumes/${encodeURIComponent(name)}`);
  create = (body: { name: string; size?: number | string; format?: "raw" | "qcow2"; backing?: string; source?: string }) =>
    this.request<VolumeInfo>("POST", "/v1/volumes", body);
  resize = (name: string, size: number | string) => this.request<VolumeInfo>("POST", `/v1/volumes/${encodeURIComponent(name)}/resize`, { size });
  /**
   * Uploads an image file as a new volume, streaming it; with `backing`, a qcow2
   * overlay rebased onto that volume; with `replace`, replacing the volume of that name.
   */
  importFile = async (name: string, path: string, format?: "raw" | "qcow2", options: { backing?: string; replace?: boolean } = {}) => {
    const query = new URLSearchParams();
    if (format) query.set("format", format);
    if (options.backing !== undefined) query.set("backing", options.backing);
    if (options.replace) query.set("replace", "true");
    const search = query.size > 0 ? `?${query}` : "";
    const response = await fetch(`${this.baseUrl}/v1/volumes/${encodeURIComponent(name)}/image${search}`, {
      method: "PUT",
      headers: { authorization: `Bearer ${this.token}`, "content-type": "application/octet-stream" },
      body: Bun.file(path),
    });
    return this.parse<VolumeInfo>("PUT", "/v1/volumes/…/image", response);
  };
  /**
   * Downloads a volume's file as stored; the response carries `x-photon-format`,
   * `x-photon-virtual-size` and, for an overlay, `x-photon-backing`. Throws on a refusal.
   */
  exportImage = async (name: string): Promise<Response> => {
    const response = await fetch(`${this.baseUrl}/v1/volumes/${encodeURIComponent(name)}/image`, {
      headers: { authorization: `Bearer ${this.token}` },
    });
    if (!response.ok) await this.parse<never>("GET", "/v1/volumes/…/image", response);
    return response;
  };
  delete = (name: string, force = false) =>
    this.request<void>("DELETE", `/v1/volumes/${encodeURIComponent(name)}${force ? "?force=true" : ""}`);
}
