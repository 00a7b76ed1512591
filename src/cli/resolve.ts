import type { CommandDef } from "citty";

type AnyCommand = CommandDef<any>;

async function value<T>(v: T | (() => T) | (() => Promise<T>) | Promise<T> | undefined): Promise<T | undefined> {
  return typeof v === "function" ? await (v as () => T | Promise<T>)() : await v;
}

/**
 * Finds the sub-command that `rawArgs` names (the first words that are not
 * flags), so that `--help` shows the usage of the right command.
 */
export async function resolveSubCommand(cmd: AnyCommand, rawArgs: string[], parent?: AnyCommand): Promise<[AnyCommand, AnyCommand?]> {
  const subCommands = await value(cmd.subCommands);
  const name = rawArgs.find((a) => !a.startsWith("-"));
  if (subCommands && name !== undefined && name in subCommands) {
    const sub = await value(subCommands[name] as AnyCommand);
    if (sub) return resolveSubCommand(sub, rawArgs.slice(rawArgs.indexOf(name) + 1), cmd);
  }
  return parent ? [cmd, parent] : [cmd];
}
