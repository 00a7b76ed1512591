import { AdminClient } from "../http/admin-client.ts";
import type { VolumeInfo } from "./volumes/json.ts";

/** The volume API of an nbd-export (or of the controller, which serves the same routes). */
export class VolumeClient extends AdminClient {
  list = () => this.request<{ volumes: VolumeInfo[] }>("GET", "/v1/volumes").then((r) => r.volumes);
  get = (name: string) => this.request<VolumeInfo>("GET", `/v1/volumes/${encodeURIComponent(name)}`);
  create = (body: { name: string; size?: number | string; format?: "raw" | "qcow2"; backing?: string; source?: string }) =>
    this.request<VolumeInfo>("POST", "/v1/volumes", body);
  resize = (name: string, size: number | string) => this.request<VolumeInfo>("POST", `/v1/volumes/${encodeURIComponent(name)}/resize`, { size });
  /** Uploads an image file as a new volume, streaming it. */
  importFile = async (name: string, path: string, format?: "raw" | "qcow2") => {
    const query = format ? `?format=${format}` : "";
    const response = await fetch(`${this.baseUrl}/v1/volumes/${encodeURIComponent(name)}/image${query}`, {
      method: "PUT",
      headers: { authorization: `Bearer ${this.token}`, "content-type": "application/octet-stream" },
      body: Bun.file(path),
    });
    return this.parse<VolumeInfo>("PUT", "/v1/volumes/…/image", response);
  };
  delete = (name: string, force = false) =>
    this.request<void>("DELETE", `/v1/volumes/${encodeURIComponent(name)}${force ? "?force=true" : ""}`);
}
