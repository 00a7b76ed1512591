import { Counter, Histogram, type Registry } from "prom-client";
import type { CutReason } from "../http/listener-limits.ts";

/** What the S3 listener records per request, for the dashboards operators draw. */
export interface S3Metrics {
  record(operation: string, status: number, bytesIn: number, bytesOut: number, seconds: number): void;
  /** A connection the listener's limits cut short (listener-limits.ts). */
  cut(reason: CutReason): void;
}

/** S3 requests by operation and status, bytes in and out, and latency by operation, on `registry`. */
export function createS3Metrics(registry: Registry): S3Metrics {
  const requests = new Counter({
    name: "photon_s3_requests_total",
    help: "S3 requests by operation and HTTP status.",
    labelNames: ["operation", "status"] as const,
    registers: [registry],
  });
  const bytes = new Counter({
    name: "photon_s3_bytes_total",
    help: "S3 body bytes by direction (in: request bodies as declared; out: response bodies).",
    labelNames: ["direction"] as const,
    registers: [registry],
  });
  const duration = new Histogram({
    name: "photon_s3_request_duration_seconds",
    help: "S3 request latency to the response's head, by operation.",
    labelNames: ["operation"] as const,
    buckets: [0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 30],
    registers: [registry],
  });
  const cuts = new Counter({
    name: "photon_s3_connections_cut_total",
    help: "S3 connections cut short by the listener's limits: over the connection cap, a request head not in time, a body below the minimum rate.",
    labelNames: ["reason"] as const,
    registers: [registry],
  });
  return {
    cut: (reason) => cuts.inc({ reason }),
    record(operation, status, bytesIn, bytesOut, seconds) {
      requests.inc({ operation, status: String(status) });
      if (bytesIn > 0) bytes.inc({ direction: "in" }, bytesIn);
      if (bytesOut > 0) bytes.inc({ direction: "out" }, bytesOut);
      duration.observe({ operation }, seconds);
    },
  };
}
