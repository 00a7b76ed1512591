import { Hono } from "hono";
import { z } from "zod";
import { problems } from "../http/problem.ts";
import { jsonBody } from "../http/validate.ts";
import type { NodeRow } from "./schema.ts";
import type { NodeStore } from "./node-store.ts";

const nodeName = z.string().regex(/^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/, "must be a DNS label (a-z, 0-9, -)");
const count = z.number().int().nonnegative();

/** The body of register and heartbeat requests. */
export const nodeReportSchema = z.strictObject({
  name: nodeName,
  advertise: z.string().min(1).max(255),
  roles: z.array(z.enum(["storage", "compute", "nbd"])).max(8),
  zone: nodeName.optional(),
  capacity: z.strictObject({ cpus: count, memoryBytes: count, diskBytes: count, diskFreeBytes: count }),
  version: z.string().max(64),
});

/** The JSON shape of a node in API responses. */
export function nodeJson(node: NodeRow) {
  return {
    ...node,
    registeredAt: node.registeredAt.toISOString(),
    lastHeartbeatAt: node.lastHeartbeatAt.toISOString(),
  };
}

/** `/v1/nodes`: register, heartbeat, list, get, drain, undrain, remove. */
export function nodeRoutes(store: NodeStore, clock: () => Date = () => new Date()): Hono {
  const app = new Hono();
  const mustFind = async (idOrName: string) => {
    const node = await store.find(idOrName);
    if (!node) throw problems.notFound(`node "${idOrName}" does not exist`);
    return node;
  };

  app.get("/", async (c) => c.json({ nodes: (await store.list()).map(nodeJson) }));

  app.post("/", async (c) => {
    const report = await jsonBody(c, nodeReportSchema);
    const { node, created } = await store.register(report, clock());
    return c.json(nodeJson(node), created ? 201 : 200);
  });

  app.get("/:node", async (c) => c.json(nodeJson(await mustFind(c.req.param("node")))));

  app.post("/:node/heartbeat", async (c) => {
    const report = await jsonBody(c, nodeReportSchema);
    const node = await store.heartbeat(c.req.param("node"), report, clock());
    if (!node) throw problems.notFound(`node "${c.req.param("node")}" is not registered`);
    return c.json(nodeJson(node));
  });

  app.post("/:node/drain", async (c) => c.json(nodeJson((await store.setScheduling((await mustFind(c.req.param("node"))).id, "drained"))!)));
  app.post("/:node/undrain", async (c) => c.json(nodeJson((await store.setScheduling((await mustFind(c.req.param("node"))).id, "active"))!)));

  app.delete("/:node", async (c) => {
    await store.remove((await mustFind(c.req.param("node"))).id);
    return c.body(null, 204);
  });
  return app;
}
