import { join } from "node:path";
import { Hono } from "hono";
import type { WorkerRole } from "../http/worker-role.ts";
import type { Logger } from "../util/log.ts";
import { runPeriodically } from "../util/schedule.ts";
import type { TrustedCa } from "../http/client-tls.ts";
import type { TokenLike } from "../util/token.ts";
import { ChunkNodeClient, DEFAULT_DEADLINES } from "./chunks/chunk-node-client.ts";
import { chunkRoutes } from "./chunks/chunk-routes.ts";
import { LocalChunkStore } from "./chunks/local-chunk-store.ts";
import { NodeHealth } from "./chunks/node-health.ts";

/** First scrub of the chunk copies this long after start, then one a day. */
const FIRST_SCRUB_MS = 10 * 60 * 1000;
const SCRUB_EVERY_MS = 24 * 60 * 60 * 1000;
/** Pause after each chunk a scrub reads (at most ~16 MiB), leaving the disk to requests. */
const SCRUB_PAUSE_MS = 20;

/**
 * LightningStor's role on a worker ("storage"): the chunk API under
 * `/v1/chunks` over `<dataDir>/chunks` (forwarding chained PUTs to the next
 * node), and a daily scrub that reads every
 * copy back and deletes a damaged one (the gateway restores it from another).
 */
export function storageNodeRole(options: { dataDir: string; token: TokenLike; ca?: TrustedCa; log: Logger }): WorkerRole {
  const { log } = options;
  const chunks = new LocalChunkStore(join(options.dataDir, "chunks"));
  // Chained PUTs go on to the next node with the cluster token, as the gateway's calls do.
  const routes = new Hono().route("/v1/chunks", chunkRoutes(chunks, { client: new ChunkNodeClient(options.token, DEFAULT_DEADLINES, new NodeHealth(), options.ca), log: log.child({ kind: "chunks" }) }));
  let scrubs: Promise<void> = Promise.resolve();
  const scrub = async () => {
    try {
      const damaged = await chunks.scrub(SCRUB_PAUSE_MS);
      if (damaged.length > 0) log.warn("removed chunk copies that failed their checksum; the gateway restores them", { chunks: damaged });
    } catch (err) {
      log.error("chunk scrub failed", { err });
    }
  };
  return {
    name: "storage",
    routes,
    async start(signal) {
      const interrupted = chunks.sweep((name) => !name.endsWith(".tmp"));
      if (interrupted > 0) log.info("removed chunks of interrupted writes", { chunks: interrupted });
      scrubs = runPeriodically(scrub, { firstMs: FIRST_SCRUB_MS, everyMs: SCRUB_EVERY_MS, signal });
    },
    stopped: () => scrubs,
  };
}
