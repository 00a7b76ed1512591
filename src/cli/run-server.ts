import type { RunningServer } from "../http/serve.ts";
import type { ServerCertificate } from "../http/server-certificate.ts";
import type { Logger } from "../util/log.ts";
import type { ClusterToken } from "../util/token.ts";

/**
 * Keeps a server running until SIGTERM or SIGINT, then shuts it down: stop
 * accepting, finish in-flight work, close the database. A second signal, or
 * `graceMs` passing, forces exit. SIGHUP rereads the TLS certificate.
 */
export async function runUntilSignal(server: RunningServer, log: Logger, options: { certificate?: ServerCertificate; token?: ClusterToken; graceMs?: number } = {}): Promise<void> {
  const { certificate, token, graceMs = 10_000 } = options;
  process.on("SIGHUP", () => {
    reloadToken(token, log);
    reloadCertificate(certificate, log);
  });
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

/** SIGHUP: the token file is reread (a rotation's next step); one that cannot be read leaves the tokens in use. */
function reloadToken(token: ClusterToken | undefined, log: Logger): void {
  if (!token?.file) return;
  try {
    token.reload();
    log.info("SIGHUP: reread the cluster token file", { file: token.file, tokens: token.count });
  } catch (err) {
    log.error("SIGHUP: the cluster token file was not reread; the tokens in use stay", { file: token.file, error: (err as Error).message });
  }
}

/** SIGHUP: the renewed certificate is used from the next connection on; a bad one leaves the old in use. */
function reloadCertificate(certificate: ServerCertificate | undefined, log: Logger): void {
  if (!certificate) return void log.info("SIGHUP: nothing to reload (no --tls-cert)");
  try {
    log.info("SIGHUP: reloaded the TLS certificate", { ...certificate.reload() });
  } catch (err) {
    log.error("SIGHUP: the TLS certificate was not reloaded; the previous one stays in use", { error: (err as Error).message, ...certificate.loaded });
  }
}
