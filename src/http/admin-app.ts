import { Hono, type Context } from "hono";
import type { Server } from "bun";
import { routePath } from "hono/route";
import { HTTPException } from "hono/http-exception";
import type { Logger } from "../util/log.ts";
import { tokenAccepts, type TokenLike } from "../util/token.ts";
import { STANDBY_HEADER } from "./admin-client.ts";
import type { HttpMetrics } from "./metrics.ts";
import { ProblemError, problemResponse, problems } from "./problem.ts";

/** What every admin API needs. */
export interface AdminAppOptions {
  /** The cluster token required on `/v1/*` and `/metrics` (any of them, during a rotation). */
  token: TokenLike;
  log: Logger;
  metrics: HttpMetrics;
  /** Collects extra gauges right before `/metrics` is rendered. */
  beforeMetrics?: () => void | Promise<void>;
  /**
   * Routes (as matched, e.g. `/v1/nodes/:node/heartbeat`) whose successful
   * requests are logged at debug: probes and heartbeats would otherwise fill
   * the log every few seconds. Default `/healthz` and `/metrics`.
   */
  quietRoutes?: readonly string[];
  /**
   * Whether this process is a standby (it waits for the lease of its duty,
   * e.g. a second controller): then `/healthz` says so, `/v1/*` answers 503
   * `standby`, and every answer carries {@link STANDBY_HEADER} so that a
   * client given several URLs moves on to the active one.
   */
  standby?: () => boolean;
  /** Turns a service's own typed errors into problems (undefined: not one of them). */
  translate?: (err: Error) => ProblemError | undefined;
}

/**
 * The common shell of every admin API: request log and metrics, bearer-token
 * auth on everything but `/healthz`, problem+json errors and 404s.
 * Routes are mounted on the returned app under `/v1`.
 */
export function createAdminApp(options: AdminAppOptions): Hono {
  const { token, log, metrics } = options;
  const quietRoutes = new Set(options.quietRoutes ?? ["/healthz", "/metrics"]);
  const app = new Hono();

  app.use(async (c, next) => {
    const started = performance.now();
    await next();
    const seconds = (performance.now() - started) / 1000;
    const route = c.res.status === 404 && routePath(c) === "/*" ? "unmatched" : routePath(c);
    metrics.requests.inc({ method: c.req.method, route, status: String(c.res.status) });
    metrics.duration.observe({ method: c.req.method, route }, seconds);
    const quiet = c.res.status < 400 && quietRoutes.has(route);
    log[quiet ? "debug" : "info"]("request", { method: c.req.method, path: c.req.path, status: c.res.status, ms: Math.round(seconds * 1e4) / 10 });
  });

  if (options.standby) {
    const standby = options.standby;
    app.use(async (c, next) => {
      if (!standby()) return next();
      if (c.req.path.startsWith("/v1/")) {
        const refused = problemResponse({ type: "standby", status: 503, title: "Standby", detail: "this server is a standby: another one is active (it holds the lease)" }, c.req.path);
        refused.headers.set(STANDBY_HEADER, "standby");
        return refused;
      }
      if (c.req.path === "/healthz") return c.json({ status: "standby" }, 200, { [STANDBY_HEADER]: "standby" });
      await next();
      c.res.headers.set(STANDBY_HEADER, "standby");
    });
  }

  app.get("/healthz", (c) => c.json({ status: "ok" }));

  const requireToken = async (c: Context, next: () => Promise<void>) => {
    const header = c.req.header("authorization") ?? "";
    const match = /^Bearer\s+(\S+)$/i.exec(header);
    if (!match) throw problems.unauthorized("missing bearer token");
    if (!tokenAccepts(token, match[1] ?? "")) throw problems.unauthorized("invalid token");
    // Long operations (a materialize, a VM start under TCG) send nothing until they finish: Bun's idle timer must not cut them off.
    (c.env as Server<unknown> | undefined)?.timeout?.(c.req.raw, 0);
    await next();
  };
  app.use("/v1/*", requireToken);
  app.use("/metrics", requireToken);

  app.get("/metrics", async (c) => {
    await options.beforeMetrics?.();
    return c.text(await metrics.registry.metrics(), 200, { "content-type": metrics.registry.contentType });
  });

  app.notFound((c) => problemResponse(problems.notFound(`no route for ${c.req.method} ${c.req.path}`).problem, c.req.path));
  app.onError((err, c) => {
    if (err instanceof ProblemError) return problemResponse(err.problem, c.req.path);
    const translated = options.translate?.(err);
    if (translated) return problemResponse(translated.problem, c.req.path);
    if (err instanceof HTTPException && err.status < 500) {
      return problemResponse({ type: "bad-request", status: err.status, title: "Bad request", detail: err.message }, c.req.path);
    }
    log.error("unhandled error", { method: c.req.method, path: c.req.path, err });
    return problemResponse({ type: "internal", status: 500, title: "Internal server error" }, c.req.path);
  });
  return app;
}
