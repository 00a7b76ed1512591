import { parseSocketAccess, SocketAccessError, type UnixSocketAccess } from "../coronafs/nbd/unix-socket.ts";
import { option, type OptionSources } from "./config.ts";
import { CliError } from "./errors.ts";

/** `--PREFIX-mode/-owner/-group` as a unix socket's access (shared with the agent's `--nbd-socket-*`). */
export function socketAccessOption(sources: OptionSources, prefix: string): UnixSocketAccess | undefined {
  try {
    return parseSocketAccess({ mode: option(sources, `${prefix}-mode`), owner: option(sources, `${prefix}-owner`), group: option(sources, `${prefix}-group`) });
  } catch (err) {
    if (err instanceof SocketAccessError) throw new CliError(`--${prefix}-*: ${err.message}`);
    throw err;
  }
}
