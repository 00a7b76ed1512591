import { Hono } from "hono";
import { repairStatus, type RepairSources } from "./repair-status.ts";

/**
 * The gateway's repair API (`/v1/s3/repair`, cluster token): `GET /` is the
 * status (repair-status.ts); `POST /run` starts a rebalance pass now and
 * answers with its figures once it ends (`?wait=false`: at once, 202).
 */
export function repairRoutes(sources: RepairSources): Hono {
  const app = new Hono();
  app.get("/", (c) => c.json(repairStatus(sources)));
  app.post("/run", async (c) => {
    const pass = sources.rebalance.trigger();
    if (c.req.query("wait") === "false") return c.json(repairStatus(sources), 202);
    return c.json(await pass);
  });
  return app;
}
