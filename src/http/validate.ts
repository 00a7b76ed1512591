import type { Context } from "hono";
import type { z } from "zod";
import { problems } from "./problem.ts";

/**
 * Parses and validates a JSON request body. Malformed JSON and schema
 * violations become a 400 problem that names the offending field.
 */
export async function jsonBody<T extends z.ZodType>(c: Context, schema: T): Promise<z.infer<T>> {
  let raw: unknown;
  try {
    raw = await c.req.json();
  } catch {
    throw problems.badRequest("request body is not valid JSON");
  }
  const result = schema.safeParse(raw);
  if (!result.success) {
    const issue = result.error.issues[0];
    const field = issue && issue.path.length > 0 ? issue.path.join(".") : "(body)";
    throw problems.invalidField(field, issue?.message ?? "invalid");
  }
  return result.data;
}
