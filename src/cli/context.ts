import { createLogger, type Logger, type LogLevel } from "../util/log.ts";
import { CliError } from "./errors.ts";
import type { TrustedCa } from "../http/client-tls.ts";
import { parseUrlList } from "../http/failover-urls.ts";
import { caOption, loadSources, option, requireToken, type OptionSources } from "./config.ts";

const levels = ["debug", "info", "warn", "error"] as const;

/** The parsed sources and a logger, built once per command run. */
export interface CommandContext {
  sources: OptionSources;
  log: Logger;
  /** The validated --log-level (also what I/O worker threads log at). */
  logLevel: LogLevel;
}

/** Reads the config file and sets up logging for a command. */
export function commandContext(flags: Record<string, unknown>, mode?: string): CommandContext {
  const sources = loadSources(flags);
  const level = option(sources, "log-level") ?? "info";
  if (!levels.includes(level as LogLevel)) throw new CliError(`--log-level: expected one of ${levels.join(", ")}`);
  const log = createLogger({ level: level as LogLevel }, mode ? { mode } : {});
  return { sources, log, logLevel: level as LogLevel };
}

/** Server URL (or comma-separated URLs: AdminClient follows the active one) and token for a client command. */
export function clientTarget(sources: OptionSources, defaultServer = "http://127.0.0.1:7070"): { server: string; token: string; ca: TrustedCa } {
  const server = option(sources, "server") ?? defaultServer;
  const urls = parseUrlList(server);
  if (urls.length === 0) throw new CliError(`--server: "${server}" names no URL`);
  for (const url of urls) {
    if (!/^https?:\/\//.test(url)) throw new CliError(`--server: "${url}" is not a URL; write it with its scheme, e.g. http://${url.replace(/^[a-z]*:\/*/i, "")}`);
    if (!URL.canParse(url)) throw new CliError(`--server: "${url}" is not a valid URL`);
  }
  return { server, token: requireToken(sources), ca: caOption(sources) };
}

/** The admin client of a client command: server and token from flags, environment or config. */
export function adminClient<T>(args: Record<string, unknown>, Client: new (server: string, token: string, ca: TrustedCa) => T, defaultServer?: string): T {
  const { server, token, ca } = clientTarget(commandContext(args).sources, defaultServer);
  return new Client(server, token, ca);
}

/** The `NAME` positional of a command about one `what` (`volume`, `VM`, …). */
export function nameArg(what: string) {
  return { name: { type: "positional", description: `${what} name`, required: true } } as const;
}
