import { existsSync, readFileSync } from "node:fs";
import { resolve } from "node:path";
import { MetadataSettingError, parseMetadataEngine, type MetadataEngine } from "../db/engine.ts";
import type { TrustedCa } from "../http/client-tls.ts";
import { parseListen, type ListenAddress } from "../http/serve.ts";
import { ServerCertificate } from "../http/server-certificate.ts";
import { ClusterToken, ensureTokenFile, readTokenFile, tokenFileName } from "../util/token.ts";
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

/**
 * A server mode's cluster token: `--token` (fixed), else the lines of
 * `--token-file` or `<data-dir>/cluster-token` (reread on SIGHUP). `create`
 * makes the data dir's file when it is missing (the controller and the
 * central services); an agent must be given the cluster's.
 */
export function clusterTokenOption(sources: OptionSources, create: boolean): ClusterToken {
  const given = option(sources, "token");
  if (given !== undefined) return new ClusterToken([given]);
  const dataDir = dataDirOption(sources);
  const file = option(sources, "token-file") ?? `${dataDir}/${tokenFileName}`;
  if (create && option(sources, "token-file") === undefined) ensureTokenFile(dataDir);
  if (!existsSync(file)) requireToken(sources);
  try {
    return ClusterToken.fromFile(resolve(file));
  } catch (err) {
    throw new CliError(`--token-file: ${(err as Error).message}`);
  }
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

/** `--ca FILE`: the CA certificates (PEM) clients verify https:// servers against; undefined for the system's. */
export function caOption(sources: OptionSources): TrustedCa {
  const path = option(sources, "ca");
  if (path === undefined) return undefined;
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (err) {
    throw new CliError(`--ca: ${(err as Error).message}`);
  }
  if (!text.includes("-----BEGIN CERTIFICATE-----")) throw new CliError(`--ca: ${path} holds no PEM certificate`);
  return text;
}

/** `--tls-cert` and `--tls-key`: both (the listeners serve TLS) or neither. */
export function certificateOption(sources: OptionSources): ServerCertificate | undefined {
  const cert = option(sources, "tls-cert");
  const key = option(sources, "tls-key");
  if (cert === undefined && key === undefined) return undefined;
  if (cert === undefined || key === undefined) throw new CliError("--tls-cert and --tls-key go together");
  try {
    return new ServerCertificate(resolve(cert), resolve(key));
  } catch (err) {
    throw new CliError((err as Error).message);
  }
}
