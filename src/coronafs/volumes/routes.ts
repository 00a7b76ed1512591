import { Hono } from "hono";
import { z } from "zod";
import { problemResponse, problems, type ProblemError } from "../../http/problem.ts";
import { jsonBody } from "../../http/validate.ts";
import { parseSize } from "../../util/size.ts";
import type { VolumeRow } from "../schema.ts";
import { VolumeError } from "./errors.ts";
import { volumeJson, type ExportEndpoints } from "./json.ts";
import { materialize } from "./materialize.ts";
import type { VolumeStore } from "./store.ts";

const size = z.union([z.number(), z.string()]).transform((value, ctx) => {
  const bytes = parseSize(value);
  if (bytes === undefined) {
    ctx.addIssue({ code: "custom", message: "expected bytes or a size like 10G" });
    return z.NEVER;
  }
  return bytes;
});

const createSchema = z.strictObject({
  name: z.string(),
  size: size.optional(),
  format: z.enum(["raw", "qcow2"]).optional(),
  backing: z.string().optional(),
  /** Materialize: a raw copy of what this NBD export holds (its size), e.g. a controller export's volume. */
  source: z.string().regex(/^nbd(\+unix)?:\/\//, "expected an nbd:// or nbd+unix:// URI").optional(),
});
const resizeSchema = z.strictObject({ size });

/** `/v1/volumes`: create (empty, as an overlay, or materialized from another export), list, get, resize, delete. */
export function volumeRoutes(store: VolumeStore, endpoints: ExportEndpoints): Hono {
  const app = new Hono();
  const json = (row: VolumeRow) => volumeJson(row, endpoints);

  app.get("/", (c) => c.json({ volumes: store.list().map(json) }));

  app.post("/", async (c) => {
    const body = await jsonBody(c, createSchema);
    if (body.source !== undefined) {
      if (body.size !== undefined || body.backing !== undefined || (body.format ?? "raw") !== "raw") {
        throw problems.invalidField("source", "a materialized volume is raw and takes its size from the source: give no size, format or backing");
      }
      const row = await materialize(store, body.name, body.source);
      return c.json({ ...json(row), copiedBytes: row.copiedBytes }, 201);
    }
    if (body.size === undefined) throw problems.invalidField("size", "required (or a source to materialize from)");
    const format = body.format ?? (body.backing ? "qcow2" : "raw");
    return c.json(json(store.create({ name: body.name, sizeBytes: body.size, format, backing: body.backing })), 201);
  });

  // Upload an image as a new volume: PUT /v1/volumes/NAME/image[?format=raw|qcow2], body = image bytes.
  app.put("/:name/image", async (c) => {
    const format = c.req.query("format");
    if (format !== undefined && format !== "raw" && format !== "qcow2") throw problems.invalidField("format", "expected raw or qcow2");
    const body = c.req.raw.body;
    if (!body) throw problems.invalidField("body", "the image bytes are missing");
    return c.json(json(await store.importImage(c.req.param("name"), format, body)), 201);
  });

  app.get("/:name", (c) => c.json(json(store.mustGet(c.req.param("name")))));

  app.post("/:name/resize", async (c) => {
    const body = await jsonBody(c, resizeSchema);
    const name = c.req.param("name");
    // Clients learn the size at the handshake and would not see the change.
    if (endpoints.connections(name) > 0) throw problems.conflict(`volume "${name}" is in use by NBD clients; disconnect them first`);
    return c.json(json(store.resize(name, body.size)));
  });

  app.delete("/:name", async (c) => {
    const force = c.req.query("force");
    if (force !== undefined && force !== "true" && force !== "false") throw problems.invalidField("force", "expected true or false");
    const name = c.req.param("name");
    store.mustGet(name);
    if (store.list().some((v) => v.backing === name)) throw problems.conflict(`volume "${name}" backs other volumes`);
    if (endpoints.connections(name) > 0) {
      if (force !== "true") throw problems.conflict(`volume "${name}" has open NBD connections; use force to disconnect them`);
      await endpoints.disconnect(name);
    }
    store.delete(name);
    return c.body(null, 204);
  });
  // The one place where the store's errors become problem responses; anything else goes on to the admin app.
  app.onError((err, c) => {
    if (err instanceof VolumeError) return problemResponse(volumeProblem(err).problem, c.req.path);
    throw err;
  });
  return app;
}

/** The HTTP problem for a volume store error. */
export function volumeProblem(err: VolumeError): ProblemError {
  switch (err.kind) {
    case "not-found":
      return problems.notFound(err.message);
    case "conflict":
      return problems.conflict(err.message);
    case "invalid":
      return problems.invalidField(err.field ?? "body", err.message);
    case "insufficient-storage":
      return problems.insufficientStorage(err.message);
  }
}
