import { statfsSync } from "node:fs";
import { Counter, Gauge, Histogram, Registry } from "prom-client";

/** Request metrics that every admin API records. */
export interface HttpMetrics {
  registry: Registry;
  requests: Counter<"method" | "route" | "status">;
  duration: Histogram<"method" | "route">;
}

/** Creates a registry with the HTTP request counter and latency histogram. */
export function createHttpMetrics(): HttpMetrics {
  const registry = new Registry();
  const requests = new Counter({
    name: "photon_http_requests_total",
    help: "HTTP requests by route and status.",
    labelNames: ["method", "route", "status"] as const,
    registers: [registry],
  });
  const duration = new Histogram({
    name: "photon_http_request_duration_seconds",
    help: "HTTP request latency.",
    labelNames: ["method", "route"] as const,
    buckets: [0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5],
    registers: [registry],
  });
  return { registry, requests, duration };
}

/** The data dir's file system on `/metrics` (`photon_data_dir_bytes{kind="total"|"free"}`), measured when scraped. */
export function registerDataDirMetrics(registry: Registry, dataDir: string): void {
  new Gauge({
    name: "photon_data_dir_bytes",
    help: "Size and free space (as unprivileged users see it) of the file system holding the data dir.",
    labelNames: ["kind"] as const,
    registers: [registry],
    collect() {
      const fs = statfsSync(dataDir);
      this.set({ kind: "total" }, fs.blocks * fs.bsize);
      this.set({ kind: "free" }, fs.bavail * fs.bsize);
    },
  });
}
