import { Hono } from "hono";
import type { StoreDb } from "../db/store-db.ts";
import type { TokenLike } from "../util/token.ts";
import { VolumeClient } from "../coronafs/client.ts";
import { ApiError } from "../http/admin-client.ts";
import type { TrustedCa } from "../http/client-tls.ts";
import type { Logger } from "../util/log.ts";
import { ArtifactStore, type ArtifactConfig } from "./images/artifact-store.ts";
import { imageRoutes } from "./images/image-routes.ts";
import { ImageService } from "./images/image-service.ts";
import { agentClients } from "./vms/agent-clients.ts";
import { vmRoutes } from "./vms/vm-routes.ts";
import { VmService, type ComputeNode } from "./vms/vm-service.ts";
import { managedVolumeRoutes } from "./volumes/volume-routes.ts";
import { VolumeService } from "./volumes/volume-service.ts";
import type * as schema from "./schema.ts";

/** What PlasmaVMC needs from the controller that runs it. */
export interface PlasmaVmcOptions {
  store: StoreDb<typeof schema>;
  token: TokenLike;
  /** The central CoronaFS export's admin API (node01's nbd-export). */
  coronafsUrl?: string;
  /** The S3 endpoint, key and bucket for image artifacts. */
  artifacts?: ArtifactConfig;
  /** The registered nodes, with where their agents listen. */
  nodes: () => Promise<ComputeNode[]>;
  cpuRatio: number;
  log: Logger;
  /** The CA the https:// CoronaFS, agents and S3 endpoint are verified against. */
  ca?: TrustedCa;
}

/**
 * PlasmaVMC's controller side, as routes the controller mounts:
 * `/v1/images`, `/v1/volumes` (the central store's, plus image-backed
 * clones) and `/v1/vms`.
 */
export function plasmaVmcRoutes(options: PlasmaVmcOptions): Hono {
  const log = options.log.child({ kind: "plasmavmc" });
  const central = options.coronafsUrl ? new VolumeClient(options.coronafsUrl, options.token, options.ca) : undefined;
  const artifacts = options.artifacts ? new ArtifactStore(options.artifacts, options.ca) : undefined;
  const images = new ImageService(options.store, artifacts, central, log);
  const volumes = new VolumeService(options.store, images, log);
  const vms = new VmService({ store: options.store, images, volumes, nodes: options.nodes, token: options.token, ca: options.ca, cpuRatio: options.cpuRatio, log });

  /** An image's base goes from the central store and from every node that cached it. */
  const dropBase = async (base: string) => {
    await images.requireCentral().delete(base, true);
    for (const node of await options.nodes()) {
      await agentClients(node.advertise, options.token, options.ca)
        .volumes.delete(base, true)
        .catch((err) => {
          if (!(err instanceof ApiError && err.status === 404)) log.warn("could not drop a cached base from a node", { node: node.name, base, err });
        });
    }
  };
  return new Hono()
    .route("/v1/images", imageRoutes(images, dropBase))
    .route("/v1/volumes", managedVolumeRoutes(volumes))
    .route("/v1/vms", vmRoutes(vms));
}
