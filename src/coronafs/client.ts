import { AdminClient, ApiError } from "../http/admin-client.ts";
import type { VolumeInfo } from "./volumes/json.ts";
import type { VolumeProgress } from "./volumes/routes.ts";

/** The volume API of an nbd-export (or of the controller, which serves the same routes). */
export class VolumeClient extends AdminClient {
  list = () => this.request<{ volumes: VolumeInfo[] }>("GET", "/v1/volumes").then((r) => r.volumes);
  get = (name: string) => this.request<VolumeInfo>("GET", `/v1/volumes/${encodeURIComponent(name)}`);
  create = (body: { name: string; size?: number | string; format?: "raw" | "qcow2"; backing?: string; source?: string; image?: string }) =>
    this.request<VolumeInfo>("POST", "/v1/volumes", body);
  /** How far a materialize of `name` has got; undefined when none runs (or the server does not say). */
  progress = (name: string) =>
    this.request<VolumeProgress>("GET", `/v1/volumes/${encodeURIComponent(name)}/progress`).catch((err: unknown) => {
      if (err instanceof ApiError && err.status === 404) return undefined;
      throw err;
    });
  resize = (name: string, size: number | string) => this.request<VolumeInfo>("POST", `/v1/volumes/${encodeURIComponent(name)}/resize`, { size });
  /** Streams a body (an image's bytes) in as a new volume, or as an overlay on `backing`, replacing one of the same name when asked. */
  importStream = async (name: string, body: ReadableStream<Uint8Array>, options: { format?: "raw" | "qcow2"; backing?: string; replace?: boolean; size?: number } = {}) => {
    const query = new URLSearchParams();
    if (options.format) query.set("format", options.format);
    if (options.backing) query.set("backing", options.backing);
    if (options.replace) query.set("replace", "true");
    const response = await this.send(`/v1/volumes/${encodeURIComponent(name)}/image?${query}`, {
      method: "PUT",
      headers: {
        authorization: this.authorization(),
        "content-type": "application/octet-stream",
        ...(options.size === undefined ? {} : { "content-length": String(options.size) }),
      },
      body,
      duplex: "half",
    } as RequestInit);
    return this.parse<VolumeInfo>("PUT", `/v1/volumes/${name}/image`, response);
  };
  /** The file of a volume as stored (raw or qcow2 bytes), streamed, with its size and format (the `x-photon-*` headers); throws on a refusal. */
  exportStream = async (name: string) => {
    const path = `/v1/volumes/${encodeURIComponent(name)}/image`;
    const response = await this.send(path, { headers: { authorization: this.authorization() } });
    if (!response.ok || !response.body) await this.parse("GET", path, response);
    return { body: response.body!, size: Number(response.headers.get("content-length")), format: response.headers.get("x-photon-format") as "raw" | "qcow2" };
  };
  delete = (name: string, force = false) =>
    this.request<void>("DELETE", `/v1/volumes/${encodeURIComponent(name)}${force ? "?force=true" : ""}`);
}
