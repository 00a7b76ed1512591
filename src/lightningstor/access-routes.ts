import { randomBytes } from "node:crypto";
import { Hono } from "hono";
import { z } from "zod";
import { problems } from "../http/problem.ts";
import { jsonBody } from "../http/validate.ts";
import { KeyError, type KeyInfo } from "./key-store.ts";
import type { S3Metadata } from "./metadata.ts";

/** A new access key pair in the usual shapes (20 upper-case characters, 40 of base64). */
export function generateKey(): { accessKey: string; secretKey: string } {
  const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
  const accessKey = "PH" + Array.from(randomBytes(18), (b) => alphabet[b % 32]).join("");
  return { accessKey, secretKey: randomBytes(30).toString("base64") };
}

const rights = { read: z.boolean().optional(), write: z.boolean().optional(), owner: z.boolean().optional() };
const grantSchema = z.strictObject({ bucket: z.string().min(1), ...rights });
const changeSchema = z.strictObject({ bucket: z.string().min(1).optional(), createBucket: z.boolean().optional(), ...rights });

/** A key as the admin API answers it (never its secret). */
function keyJson(k: KeyInfo) {
  return { ...k, createdAt: k.createdAt.toISOString() };
}

/** Runs a change of rights; a KeyError becomes its problem. */
async function changing<T>(run: () => Promise<T>): Promise<T> {
  try {
    return await run();
  } catch (err) {
    if (!(err instanceof KeyError)) throw err;
    throw err.reason === "root" ? problems.conflict(err.message) : problems.notFound(err.message);
  }
}

/**
 * `/v1/s3/keys`: list, create (with rights), delete keys, give and take
 * rights. A secret is shown once, when its key is created.
 */
export function keyRoutes(meta: S3Metadata): Hono {
  const app = new Hono();
  app.get("/", async (c) => c.json({ keys: (await meta.keys.list()).map(keyJson) }));
  app.post("/", async (c) => {
    const body = await jsonBody(c, z.strictObject({ name: z.string().min(1).max(64), createBucket: z.boolean().optional(), allow: z.array(grantSchema).optional() }));
    const key = generateKey();
    const grants = (body.allow ?? []).map((g) => ({ bucket: g.bucket, read: g.read ?? false, write: g.write ?? false, owner: g.owner ?? false }));
    await changing(() => meta.keys.addScoped(key.accessKey, key.secretKey, body.name, { createBucket: body.createBucket ?? false, grants }));
    const created = (await meta.keys.list()).find((k) => k.accessKey === key.accessKey);
    return c.json({ ...(created && keyJson(created)), secretKey: key.secretKey }, 201);
  });
  app.delete("/:accessKey", async (c) => {
    if (!(await meta.keys.delete(c.req.param("accessKey")))) throw problems.notFound(`access key "${c.req.param("accessKey")}" does not exist`);
    return c.body(null, 204);
  });
  for (const verb of ["allow", "deny"] as const) {
    app.post(`/:accessKey/${verb}`, async (c) => {
      const change = await jsonBody(c, changeSchema);
      if (change.bucket === undefined && change.createBucket === undefined) throw problems.invalidField("bucket", "name a bucket, or createBucket");
      return c.json(keyJson(await changing(() => meta.keys.setRights(c.req.param("accessKey"), change, verb === "allow"))));
    });
  }
  return app;
}

/** `/v1/s3/buckets`: buckets with their contents counted, who may do what, and public read. */
export function bucketRoutes(meta: S3Metadata): Hono {
  const app = new Hono();
  app.get("/", async (c) => c.json({ buckets: (await meta.bucketSummaries()).map((b) => ({ ...b, createdAt: b.createdAt.toISOString() })) }));
  app.get("/:bucket", async (c) => {
    const name = c.req.param("bucket");
    const [bucket] = await meta.bucketSummaries(name);
    if (!bucket) throw problems.notFound(`bucket "${name}" does not exist`);
    // Root and legacy keys reach every bucket; scoped keys what their grant says.
    const keys = (await meta.keys.list()).flatMap((k) => {
      const full = { accessKey: k.accessKey, name: k.name, access: k.access, read: true, write: true, owner: true };
      if (k.access !== "scoped") return [full];
      const grant = k.grants.find((g) => g.bucket === name);
      return grant ? [{ ...full, read: grant.read, write: grant.write, owner: grant.owner }] : [];
    });
    return c.json({ ...bucket, createdAt: bucket.createdAt.toISOString(), keys });
  });
  app.put("/:bucket/public", async (c) => {
    const { publicRead } = await jsonBody(c, z.strictObject({ publicRead: z.boolean() }));
    if (!(await meta.setPublic(c.req.param("bucket"), publicRead))) throw problems.notFound(`bucket "${c.req.param("bucket")}" does not exist`);
    return c.json({ name: c.req.param("bucket"), publicRead });
  });
  return app;
}
