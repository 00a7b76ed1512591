import type { RunningServer } from "../http/serve.ts";
import type { Logger } from "../util/log.ts";

/**
 * Keeps a server running until SIGTERM or SIGINT, then shuts it down: stop
 * accepting, finish in-flight work, close the database. A second signal, or
 * `graceMs` passing, forces exit.
 */
export async function runUntilSignal(server: RunningServer, log: Logger, graceMs = 10_000): Promise<void> {
  const signal = await new Promise<string>((resolve) => {
    process.once("SIGTERM", () => resolve("SIGTERM"));
    process.once("SIGINT", () => resolve("SIGINT"));
  });
  log.info("shutting down", { signal });
  const force = () => {
    log.error("shutdown did not finish in time; exiting");
    process.exit(1);
  };
  const timer = setTimeout(force, graceMs);
  process.once("SIGTERM", force);
  process.once("SIGINT", force);
  await server.stop();
  clearTimeout(timer);
  log.info("stopped");
  process.exit(0);
}
