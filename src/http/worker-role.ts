import type { Hono } from "hono";

/**
 * What a service runs on a worker: its admin routes, mounted on the agent's
 * API, and its background work. The agent mounts the roles it was started with
 * and knows nothing else about them (STYLE.md, guideline 11).
 */
export interface WorkerRole {
  /** The role's name in `--roles` (storage, nbd, compute). */
  readonly name: string;
  /** Routes with their full paths (`/v1/chunks/…`), mounted on the agent's admin API. */
  readonly routes: Hono;
  /** Starts the role's listeners and timers; resolves once it serves. All of them stop when `signal` aborts. */
  start(signal: AbortSignal): Promise<void>;
  /** Settles once everything `start` began has stopped, after the signal aborted. */
  stopped(): Promise<void>;
}
