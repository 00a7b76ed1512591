import { AdminClient } from "../http/admin-client.ts";
import type { ImageInfo } from "./images/image-routes.ts";
import type { CreateVmRequest, VmInfo } from "./vms/vm-service.ts";

/** The image API of the controller. */
export class ImageClient extends AdminClient {
  list = () => this.request<{ images: ImageInfo[] }>("GET", "/v1/images").then((r) => r.images);
  get = (name: string) => this.request<ImageInfo>("GET", `/v1/images/${encodeURIComponent(name)}`);
  /** CreateImage from a URL or an s3:// object the controller fetches itself. */
  createFrom = (name: string, from: string) => this.request<ImageInfo>("POST", "/v1/images", { name, from });
  /** CreateImage from bytes this client streams (a local file). */
  upload = async (name: string, body: ReadableStream<Uint8Array>, size: number, label: string) => {
    const path = `/v1/images/${encodeURIComponent(name)}?source=${encodeURIComponent(label)}`;
    const response = await this.send(path, {
      method: "PUT",
      headers: { authorization: this.authorization(), "content-type": "application/octet-stream", "content-length": String(size) },
      body,
      duplex: "half",
    } as RequestInit);
    return this.parse<ImageInfo>("PUT", path, response);
  };
  delete = (name: string) => this.request<void>("DELETE", `/v1/images/${encodeURIComponent(name)}`);
}

/** The VM API of the controller. */
export class VmClient extends AdminClient {
  list = () => this.request<{ vms: VmInfo[] }>("GET", "/v1/vms").then((r) => r.vms);
  get = (name: string) => this.request<VmInfo>("GET", `/v1/vms/${encodeURIComponent(name)}`);
  create = (request: CreateVmRequest) => this.request<VmInfo>("POST", "/v1/vms", request);
  start = (name: string) => this.request<VmInfo>("POST", `/v1/vms/${encodeURIComponent(name)}/start`, {});
  stop = (name: string, force: boolean) => this.request<VmInfo>("POST", `/v1/vms/${encodeURIComponent(name)}/stop`, { force });
  reboot = (name: string) => this.request<VmInfo>("POST", `/v1/vms/${encodeURIComponent(name)}/reboot`, {});
  move = (name: string, to: string) => this.request<VmInfo>("POST", `/v1/vms/${encodeURIComponent(name)}/move`, { to });
  delete = (name: string) => this.request<void>("DELETE", `/v1/vms/${encodeURIComponent(name)}`);
  /** The serial console as text; with `follow`, a stream that lasts until the VM stops. */
  console = async (name: string, follow: boolean): Promise<ReadableStream<Uint8Array>> => {
    const path = `/v1/vms/${encodeURIComponent(name)}/console${follow ? "?follow=true" : ""}`;
    const response = await this.send(path, { headers: { authorization: this.authorization() } });
    if (!response.ok || !response.body) await this.parse("GET", path, response);
    return response.body!;
  };
}
