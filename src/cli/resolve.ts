import type { CommandDef } from "citty";

type AnyCommand = CommandDef<any>;

async function value<T>(v: T | (() => T) | (() => Promise<T>) | Promise<T> | undefined): Promise<T | undefined> {
  return typeof v === "function" ? await (v as () => T | Promise<T>)() : await v;
}

/**
 * Finds the sub-command that `rawArgs` names (the first words that are not
 * flags), so that `--help` shows the usage of the right command; the second
 * element stands for its parents, named by the whole path (`photon volume`)
 * so that usage reads `USAGE photon volume create …`.
 */
export async function resolveSubCommand(cmd: AnyCommand, rawArgs: string[], path: string[] = []): Promise<[AnyCommand, AnyCommand?]> {
  const subCommands = await value(cmd.subCommands);
  const name = rawArgs.find((a) => !a.startsWith("-"));
  const meta = await value(cmd.meta);
  if (subCommands && name !== undefined && name in subCommands) {
    const sub = await value(subCommands[name] as AnyCommand);
    if (sub) return resolveSubCommand(sub, rawArgs.slice(rawArgs.indexOf(name) + 1), [...path, meta?.name ?? name]);
  }
  return path.length > 0 ? [cmd, { meta: { name: path.join(" ") } }] : [cmd];
}
