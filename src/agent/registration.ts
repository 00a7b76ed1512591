import { ApiError, isStandbyRefusal } from "../http/admin-client.ts";
import type { ControllerClient } from "../controller/client.ts";
import type { NodeReport } from "../controller/client.ts";
import type { Logger } from "../util/log.ts";

/** Options of the agent's registration loop. */
export interface RegistrationOptions {
  client: ControllerClient;
  /** Builds a fresh report (capacity changes over time). */
  report: () => NodeReport;
  heartbeatMs: number;
  /** Upper bound of the retry backoff while the controller is unreachable. */
  maxBackoffMs: number;
  log: Logger;
  signal: AbortSignal;
}

/**
 * Registers with the controller, then heartbeats every `heartbeatMs`. While
 * the controller is away it retries with exponential backoff; when the
 * controller answers 404 (it forgot the node) it registers again. Given
 * several controllers, the client sends to the active one; while only
 * standbys answer (a takeover under way, a few seconds) it retries every
 * `heartbeatMs`, so that the node's heartbeats resume as soon as one is active.
 */
export async function runRegistration(options: RegistrationOptions): Promise<void> {
  const { client, log, signal } = options;
  let nodeId: string | undefined;
  let backoff = options.heartbeatMs;
  let failing = false;
  while (!signal.aborted) {
    try {
      if (nodeId === undefined) {
        const node = await client.register(options.report(), signal);
        nodeId = node.id;
        log.info("registered with controller", { node: node.name, id: node.id, controller: client.baseUrl });
      } else {
        await client.heartbeat(nodeId, options.report(), signal);
      }
      if (failing) log.info("controller reachable again", { controller: client.baseUrl });
      failing = false;
      backoff = options.heartbeatMs;
      await delay(options.heartbeatMs, signal);
    } catch (err) {
      if (signal.aborted) break;
      if (err instanceof ApiError && err.status === 404) {
        log.warn("controller does not know this node; registering again");
        nodeId = undefined;
        continue;
      }
      const takeover = isStandbyRefusal(err);
      if (!failing) log.warn(takeover ? "no controller is active yet; retrying" : "controller unreachable; retrying", { controller: client.baseUrl, error: String(err) });
      failing = true;
      await delay(takeover ? options.heartbeatMs : backoff, signal);
      if (!takeover) backoff = Math.min(backoff * 2, options.maxBackoffMs);
    }
  }
}

/** Resolves after `ms`, or early when `signal` aborts. */
export function delay(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(done, ms);
    signal.addEventListener("abort", done, { once: true });
    function done() {
      clearTimeout(timer);
      signal.removeEventListener("abort", done);
      resolve();
    }
  });
}
