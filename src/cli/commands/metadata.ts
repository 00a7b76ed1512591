import { defineCommand } from "citty";
import { existsSync, statSync } from "node:fs";
import { basename, join } from "node:path";
import { controllerMetadataFile, controllerSchemas } from "../../controller/server.ts";
import { copySqliteToPostgres, MetadataCopyError } from "../../db/copy-metadata.ts";
import { MetadataSettingError, parseMetadataEngine, redactUrl } from "../../db/engine.ts";
import type { StoreSchemas } from "../../db/store-db.ts";
import { lightningstorSchemas, s3MetadataFile } from "../../lightningstor/metadata.ts";
import { CliError } from "../errors.ts";

/** A mode whose metadata can move to PostgreSQL. */
type MetadataMode = { mode: string; schemas: StoreSchemas<Record<string, unknown>> };

/** The modes, by their SQLite file's name. */
const modes: Record<string, MetadataMode> = {
  [s3MetadataFile]: { mode: "s3-gateway", schemas: lightningstorSchemas },
  [controllerMetadataFile]: { mode: "controller", schemas: controllerSchemas },
};

/** `--from sqlite:PATH`: the file, or a data dir holding exactly one mode's file. */
function sourceFile(from: string): { path: string; mode: MetadataMode } {
  const path = from.replace(/^sqlite:/, "");
  if (!from.startsWith("sqlite:") || path === "") throw new CliError(`--from: expected sqlite:PATH (a controller.db or s3-gateway.db, or the data dir holding it), not "${from}"`);
  if (!existsSync(path)) throw new CliError(`--from: ${path} does not exist`);
  const candidates = statSync(path).isDirectory() ? Object.keys(modes).map((file) => join(path, file)).filter((file) => existsSync(file)) : [path];
  if (candidates.length !== 1) throw new CliError(`--from: ${path} holds ${candidates.length === 0 ? "no" : "both a controller.db and an s3-gateway.db:"} metadata file${candidates.length === 0 ? "" : "; name the file"}`);
  const file = candidates[0]!;
  const mode = modes[basename(file)];
  if (!mode) throw new CliError(`--from: ${file} is not a controller.db or s3-gateway.db`);
  return { path: file, mode };
}

/** `photon metadata migrate`: a stopped installation's SQLite metadata into PostgreSQL. */
const migrate = defineCommand({
  meta: { name: "migrate", description: "Copy a stopped controller's or s3-gateway's SQLite metadata into a new, empty PostgreSQL database" },
  args: {
    from: { type: "string", required: true, description: "sqlite:PATH — the controller.db or s3-gateway.db, or the data dir holding it", valueHint: "sqlite:PATH" },
    to: { type: "string", required: true, description: "postgres://USER@HOST/DB — an empty database (then start the mode with --metadata and this URL)", valueHint: "URL" },
  },
  async run({ args }) {
    let url: string;
    try {
      const engine = parseMetadataEngine(args.to);
      if (engine.kind !== "postgres") throw new MetadataSettingError("--to: expected a postgres://… URL");
      url = engine.url;
    } catch (err) {
      throw err instanceof MetadataSettingError ? new CliError(err.message.replace("--metadata", "--to")) : err;
    }
    const source = sourceFile(args.from);
    let copied: Record<string, number>;
    try {
      copied = await copySqliteToPostgres(source.path, url, source.mode.schemas);
    } catch (err) {
      if (err instanceof MetadataCopyError) throw new CliError(err.message);
      throw err;
    }
    const rows = Object.entries(copied).map(([table, n]) => `${table} ${n}`).join(", ");
    console.log(`copied the ${source.mode.mode}'s metadata from ${source.path} to ${redactUrl(url)}: ${rows}`);
    console.log(`start the ${source.mode.mode} with --metadata ${redactUrl(url)}${source.mode.mode === "s3-gateway" ? " and the same data dir (its s3-secrets.key opens the stored secrets)" : ""}`);
  },
});

/** `photon metadata …`: moving a mode's metadata between engines. */
export default defineCommand({
  meta: { name: "metadata", description: "Move a controller's or s3-gateway's metadata from SQLite to PostgreSQL" },
  subCommands: { migrate },
});
