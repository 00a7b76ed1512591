import { existsSync, readFileSync } from "node:fs";
import { resolve } from "node:path";
import { MetadataSettingError, parseMetadataEngine, type MetadataEngine } from "../db/engine.ts";
import { parseListen, type ListenAddress } from "../http/serve.ts";
import { readTokenFile } from "../util/token.ts";
import { CliError } from "./errors.ts";

/** Where option values come from, in precedence order: flag > `PHOTON_*` env > config file > default. */
export interface OptionSources {
  flags: Record<string, unknown>;
  env: Record<string, string | undefined>;
  file: Record<string, unknown>;
}

/** Reads the `--config` (or `PHOTON_CONFIG`) TOML file, if any, into option sources. */
export function loadSources(flags: Record<string, unknown>, env = process.env): OptionSources {
  const path = (flags.config as string | undefined) ?? env.PHOTON_CONFIG;
  let file: Record<string, unknown> = {};
  if (path) {
    if (!existsSync(path)) throw new CliError(`config file ${path} does not exist`);
    try {
      file = Bun.TOML.parse(readFileSync(path, "utf8")) as Record<string, unknown>;
    } catch (err) {
      throw new CliError(`config file ${path}: ${(err as Error).message}`);
    }
  }
  return { flags, env, file };
}

/** The environment variable for an option: `data-dir` → `PHOTON_DATA_DIR`. */
export function envName(option: string): string {
  return "PHOTON_" + option.toUpperCase().replaceAll("-", "_");
}

/** Resolves one option by precedence; undefined when no source sets it. */
export function option(sources: OptionSources, name: string): string | undefined {
  const flag = sources.flags[name];
  if (flag !== undefined && flag !== "") return String(flag);
  const env = sources.env[envName(name)];
  if (env !== undefined && env !== "") return env;
  const file = sources.file[name];
  return file === undefined ? undefined : String(file);
}

/** Resolves a numeric option (milliseconds, counts). */
export function numberOption(sources: OptionSources, name: string, fallback: number): number {
  const raw = option(sources, name);
  if (raw === undefined) return fallback;
  const value = Number(raw);
  if (!Number.isFinite(value) || value < 0) throw new CliError(`--${name}: "${raw}" is not a non-negative number`);
  return value;
}

/** Resolves a listen address option with its mode's default port. */
export function listenOption(sources: OptionSources, name: string, fallback: string): ListenAddress {
  const raw = option(sources, name) ?? fallback;
  try {
    return parseListen(raw);
  } catch (err) {
    throw new CliError(`--${name}: ${(err as Error).message}`);
  }
}

/** `--metadata` (`PHOTON_METADATA`, config `metadata`): SQLite in the data dir, or a PostgreSQL URL. */
export function metadataOption(sources: OptionSources): MetadataEngine {
  try {
    return parseMetadataEngine(option(sources, "metadata"));
  } catch (err) {
    if (err instanceof MetadataSettingError) throw new CliError(err.message);
    throw err;
  }
}

/** The data dir: flag/env/config, else `/var/lib/photon` for root and `./photon-data` for others. */
export function dataDirOption(sources: OptionSources): string {
  const fallback = process.getuid?.() === 0 ? "/var/lib/photon" : "./photon-data";
  return resolve(option(sources, "data-dir") ?? fallback);
}

/** The cluster token: `--token`, `PHOTON_TOKEN`, config, then `<data-dir>/cluster-token`. */
export function tokenOption(sources: OptionSources): string | undefined {
  return option(sources, "token") ?? readTokenFile(dataDirOption(sources));
}

/** Like {@link tokenOption}, but a missing token is an error that says where to put one. */
export function requireToken(sources: OptionSources): string {
  const token = tokenOption(sources);
  if (!token) {
    throw new CliError(
      `no cluster token: pass --token, set PHOTON_TOKEN, or put the controller's cluster-token into ${dataDirOption(sources)}/cluster-token`,
    );
  }
  return token;
}
