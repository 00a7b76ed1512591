import { Hono } from "hono";
import { z } from "zod";
import { jsonBody } from "../../http/validate.ts";
import type { VmService } from "./vm-service.ts";

const size = z.union([z.number(), z.string()]);
const createSchema = z.strictObject({
  name: z.string(),
  image: z.string(),
  cpus: z.number().optional(),
  memory: size.optional(),
  disk: size.optional(),
  dataDisks: z.array(size).max(8).optional(),
  kernel: z.string().optional(),
  initrd: z.string().optional(),
  append: z.string().optional(),
  network: z.enum(["none", "user"]).optional(),
  start: z.boolean().optional(),
});

/** `/v1/vms`: create (and start), list, show, start, stop, reboot, move, console, delete. */
export function vmRoutes(vms: VmService): Hono {
  const app = new Hono();
  app.get("/", async (c) => c.json({ vms: (await vms.list()).map((vm) => vms.info(vm)) }));
  app.post("/", async (c) => c.json(await vms.create(await jsonBody(c, createSchema)), 201));
  app.get("/:name", async (c) => c.json(await vms.show(c.req.param("name"))));
  app.post("/:name/start", async (c) => c.json(await vms.start(c.req.param("name"))));
  app.post("/:name/stop", async (c) => {
    const body = await jsonBody(c, z.strictObject({ force: z.boolean().optional() }));
    return c.json(await vms.stop(c.req.param("name"), body.force ?? false));
  });
  app.post("/:name/reboot", async (c) => c.json(await vms.reboot(c.req.param("name"))));
  app.post("/:name/move", async (c) => {
    const body = await jsonBody(c, z.strictObject({ to: z.string() }));
    return c.json(await vms.move(c.req.param("name"), body.to));
  });
  app.get("/:name/console", async (c) => {
    const upstream = await vms.console(c.req.param("name"), new URL(c.req.url).searchParams, c.req.raw.signal);
    return new Response(upstream.body, { headers: { "content-type": "text/plain; charset=utf-8" } });
  });
  app.delete("/:name", async (c) => {
    await vms.delete(c.req.param("name"));
    return c.body(null, 204);
  });
  return app;
}
