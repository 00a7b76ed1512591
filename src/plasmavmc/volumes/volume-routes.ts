import { Hono } from "hono";
import { z } from "zod";
import { jsonBody } from "../../http/validate.ts";
import { invalid } from "../errors.ts";
import type { VolumeService } from "./volume-service.ts";

const size = z.union([z.number(), z.string()]);
const createSchema = z.strictObject({
  name: z.string(),
  size: size.optional(),
  format: z.enum(["raw", "qcow2"]).optional(),
  backing: z.string().optional(),
  image: z.string().optional(),
});

/** The controller's `/v1/volumes`: the same routes as an nbd-export's, plus `image` on create (an image-backed clone). */
export function managedVolumeRoutes(volumes: VolumeService): Hono {
  const app = new Hono();
  app.get("/", async (c) => c.json({ volumes: await volumes.list() }));
  app.post("/", async (c) => c.json(await volumes.create(await jsonBody(c, createSchema)), 201));
  app.put("/:name/image", async (c) => {
    const format = c.req.query("format");
    if (format !== undefined && format !== "raw" && format !== "qcow2") throw invalid("format", "expected raw or qcow2");
    const body = c.req.raw.body;
    if (!body) throw invalid("body", "the image bytes are missing");
    const length = c.req.header("content-length");
    return c.json(await volumes.importImage(c.req.param("name"), body, format, length === undefined ? undefined : Number(length)), 201);
  });
  app.get("/:name", async (c) => c.json(await volumes.get(c.req.param("name"))));
  app.post("/:name/resize", async (c) => c.json(await volumes.resize(c.req.param("name"), (await jsonBody(c, z.strictObject({ size }))).size)));
  app.delete("/:name", async (c) => {
    const force = c.req.query("force");
    if (force !== undefined && force !== "true" && force !== "false") throw invalid("force", "expected true or false");
    await volumes.delete(c.req.param("name"), { force: force === "true" });
    return c.body(null, 204);
  });
  return app;
}
