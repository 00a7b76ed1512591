import type { Logger } from "../util/log.ts";
import { labNetworkLeftovers, namespacePids, removeLabNetwork } from "./network.ts";
import { findLabChildren, isAlive, isLabChild, terminate } from "./processes.ts";
import { readLabState, readLabStateFile, removeLabState } from "./state.ts";
import { labId } from "./topology.ts";

/**
 * Removes whatever a lab in `dir` that is no longer running left behind: its service
 * processes (from the state file, by their data dir, and inside its namespaces), its
 * namespaces, veths and bridge, and the state file. Returns what it removed.
 */
export async function cleanUpLab(dir: string): Promise<string[]> {
  const state = readLabStateFile(dir);
  const id = state?.id ?? labId(dir);
  const network = labNetworkLeftovers(id);
  const pids = new Set([...(state?.children ?? []).map((c) => c.pid).filter((pid) => pid > 0 && isLabChild(pid, dir)), ...findLabChildren(dir)]);
  for (const ns of network.namespaces) for (const pid of namespacePids(ns)) pids.add(pid);
  await terminate([...pids]);
  const removed = [...pids].map((pid) => `process ${pid}`);
  if (network.namespaces.length > 0 || network.links.length > 0) removed.push(...removeLabNetwork(id));
  if (state) {
    removeLabState(dir);
    removed.push("state file");
  }
  return removed;
}

/** What `lab down` did. */
export type DownResult = { stopped: number } | { cleanedUp: string[] } | { nothing: true };

/**
 * Stops the lab running in `dir` as Ctrl-C would (its process stops the services in order and
 * removes its network), then removes anything still left, such as the services of a lab whose
 * process was killed. Nothing running is not an error.
 */
export async function labDown(dir: string, log: Logger, timeoutMs = 40_000): Promise<DownResult> {
  const running = readLabState(dir);
  if (running) {
    process.kill(running.pid, "SIGTERM");
    const deadline = Date.now() + timeoutMs;
    while (isAlive(running.pid)) {
      if (Date.now() > deadline) {
        log.warn("the lab did not stop in time; killing it and cleaning up", { pid: running.pid });
        process.kill(running.pid, "SIGKILL");
      }
      await Bun.sleep(25);
    }
  }
  const removed = await cleanUpLab(dir);
  if (running) return { stopped: running.pid };
  return removed.length > 0 ? { cleanedUp: removed } : { nothing: true };
}
