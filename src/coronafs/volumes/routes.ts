import { Hono } from "hono";
import { z } from "zod";
import { problemOfKind, problemResponse, problems, type ProblemError } from "../../http/problem.ts";
import { jsonBody } from "../../http/validate.ts";
import { parseSize } from "../../util/size.ts";
import type { VolumeRow } from "../schema.ts";
import type { TlsClientCredentials } from "../tls/context.ts";
import { VolumeError } from "./errors.ts";
import { volumeJson, type ExportEndpoints } from "./json.ts";
import { importImage } from "./import.ts";
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
  source: z.string().regex(/^nbds?(\+unix)?:\/\//, "expected an nbd://, nbds://, nbd+unix:// or nbds+unix:// URI").optional(),
});
const resizeSchema = z.strictObject({ size });

/** How far a materialize has got: what `GET /v1/volumes/NAME/progress` answers while it runs. */
export interface VolumeProgress {
  operation: "materialize";
  source: string;
  /** Bytes of the source done: copied, or skipped as zeros. */
  doneBytes: number;
  totalBytes: number;
  startedAt: string;
}

/**
 * `/v1/volumes`: create (empty, as an overlay, or materialized from another export), list, get, resize, delete; progress of a materialize.
 * `sourceTls` verifies an `nbds://` source that names no credentials (this process's `--ca`).
 */
export function volumeRoutes(store: VolumeStore, endpoints: ExportEndpoints, sourceTls?: TlsClientCredentials): Hono {
  const app = new Hono();
  const json = (row: VolumeRow) => volumeJson(row, endpoints);
  /** Materializes running now, by volume name. */
  const running = new Map<string, VolumeProgress>();

  app.get("/", (c) => c.json({ volumes: store.list().map(json) }));

  app.post("/", async (c) => {
    const body = await jsonBody(c, createSchema);
    if (body.source !== undefined) {
      if (body.size !== undefined || body.backing !== undefined || (body.format ?? "raw") !== "raw") {
        throw problems.invalidField("source", "a materialized volume is raw and takes its size from the source: give no size, format or backing");
      }
      if (running.has(body.name)) throw problems.conflict(`volume "${body.name}" is being materialized already`);
      const progress: VolumeProgress = { operation: "materialize", source: body.source, doneBytes: 0, totalBytes: 0, startedAt: new Date().toISOString() };
      running.set(body.name, progress);
      try {
        const onProgress = (done: number, total: number) => {
          progress.doneBytes = done;
          progress.totalBytes = total;
        };
        const row = await materialize(store, body.name, body.source, { onProgress, sourceTls });
        return c.json({ ...json(row), copiedBytes: row.copiedBytes }, 201);
      } finally {
        running.delete(body.name);
      }
    }
    if (body.size === undefined) throw problems.invalidField("size", "required (or a source to materialize from)");
    const format = body.format ?? (body.backing ? "qcow2" : "raw");
    return c.json(json(store.create({ name: body.name, sizeBytes: body.size, format, backing: body.backing })), 201);
  });

  // Upload an image as a new volume: PUT /v1/volumes/NAME/image[?format=raw|qcow2][&backing=BASE][&replace=true], body = image bytes.
  app.put("/:name/image", async (c) => {
    const name = c.req.param("name");
    const format = c.req.query("format");
    if (format !== undefined && format !== "raw" && format !== "qcow2") throw problems.invalidField("format", "expected raw or qcow2");
    const replace = booleanQuery(c.req.query("replace"), "replace");
    const backing = c.req.query("backing");
    if (backing === "") throw problems.invalidField("backing", "expected the name of a volume");
    const body = c.req.raw.body;
    if (!body) throw problems.invalidField("body", "the image bytes are missing");
    const inUse = () => endpoints.connections(name) > 0;
    const existed = store.get(name) !== undefined;
    const row = await importImage(store, name, body, { format, backing, replace: replace ? { inUse } : undefined });
    return c.json(json(row), existed ? 200 : 201);
  });

  // Download a volume's file as stored (raw or qcow2 bytes); an overlay's names its backing volume.
  app.get("/:name/image", (c) => {
    const name = c.req.param("name");
    const image = store.imageOf(name);
    // A writer could change the file mid-copy; a read-only volume cannot change.
    if (!image.readOnly && endpoints.connections(name) > 0) {
      throw problems.conflict(`volume "${name}" has open NBD connections; disconnect them before exporting its image`);
    }
    const headers: Record<string, string> = {
      "content-type": "application/octet-stream",
      "content-length": String(image.bytes),
      "x-photon-format": image.row.format,
      "x-photon-virtual-size": String(image.row.sizeBytes),
    };
    if (image.row.backing) headers["x-photon-backing"] = image.row.backing;
    return new Response(Bun.file(image.path), { headers });
  });

  // A long operation on a volume that does not exist yet; 404 once it has finished (or when none runs).
  app.get("/:name/progress", (c) => {
    const progress = running.get(c.req.param("name"));
    if (!progress) throw problems.notFound(`nothing is running on volume "${c.req.param("name")}"`);
    return c.json(progress);
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
    const force = booleanQuery(c.req.query("force"), "force");
    const name = c.req.param("name");
    store.mustGet(name);
    if (store.list().some((v) => v.backing === name)) throw problems.conflict(`volume "${name}" backs other volumes`);
    if (endpoints.connections(name) > 0) {
      if (!force) throw problems.conflict(`volume "${name}" has open NBD connections; use force to disconnect them`);
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

/** A `true`/`false` query parameter (absent: false). */
function booleanQuery(value: string | undefined, name: string): boolean {
  if (value !== undefined && value !== "true" && value !== "false") throw problems.invalidField(name, "expected true or false");
  return value === "true";
}

/** The HTTP problem for a volume store error. */
export function volumeProblem(err: VolumeError): ProblemError {
  return problemOfKind(err.kind, err.message, err.field);
}
