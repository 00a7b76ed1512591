import { Hono } from "hono";
import { z } from "zod";
import { jsonBody } from "../../http/validate.ts";
import { invalid } from "../errors.ts";
import type { ImageRow } from "../schema.ts";
import { parseRemoteSource, type ImageService } from "./image-service.ts";

/** The JSON shape of an image. */
export function imageJson(row: ImageRow) {
  return { ...row, createdAt: row.createdAt.toISOString() };
}
export type ImageInfo = ReturnType<typeof imageJson>;

const createSchema = z.strictObject({ name: z.string(), from: z.string() });

/**
 * `/v1/images`: POST `{name, from}` imports from a URL or an S3 object;
 * PUT `/:name` with the bytes as the body uploads a file (streamed, any
 * size); list, show, delete.
 */
export function imageRoutes(images: ImageService, dropBase: (base: string) => Promise<void>): Hono {
  const app = new Hono();
  app.get("/", async (c) => c.json({ images: (await images.list()).map(imageJson) }));
  app.post("/", async (c) => {
    const body = await jsonBody(c, createSchema);
    return c.json(imageJson(await images.create(body.name, parseRemoteSource(body.from))), 201);
  });
  app.put("/:name", async (c) => {
    const body = c.req.raw.body;
    if (!body) throw invalid("body", "the image bytes are missing");
    const label = c.req.query("source") ?? "upload";
    return c.json(imageJson(await images.create(c.req.param("name"), { kind: "upload", body, label })), 201);
  });
  app.get("/:name", async (c) => c.json(imageJson(await images.get(c.req.param("name")))));
  app.delete("/:name", async (c) => {
    await images.delete(c.req.param("name"), dropBase);
    return c.body(null, 204);
  });
  return app;
}
