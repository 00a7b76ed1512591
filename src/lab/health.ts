import { postgresAnswers } from "../db/postgres-cluster.ts";
import { fetchTls, type TrustedCa } from "../http/client-tls.ts";

/**
 * Whether a lab service answers its health check within 2 s: a `/healthz`
 * URL answers 200 (verified against a TLS lab's CA), a `postgres://` URL (the
 * lab's PostgreSQL over its unix socket) a query.
 */
export async function serviceHealthy(healthUrl: string, ca?: TrustedCa): Promise<boolean> {
  if (/^postgres(ql)?:\/\//.test(healthUrl)) return postgresAnswers(healthUrl, 2_000);
  // Bounded: an address that accepts and never answers must not hang the lab.
  return fetch(healthUrl, { signal: AbortSignal.timeout(2_000), ...fetchTls(ca) }).then((r) => r.ok, () => false);
}
