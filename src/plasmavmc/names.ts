import { invalid } from "./errors.ts";

/** Names of images, volumes and VMs: what CoronaFS accepts for a volume, minus room for the `-root`/`-dataN` suffixes. */
const namePattern = /^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$/;

/** Refuses a name that cannot be used. */
export function checkName(field: string, name: string): string {
  if (!namePattern.test(name)) throw invalid(field, `"${name}" is not a valid name: 1-100 characters of A-Z a-z 0-9 . _ -, starting with a letter or digit`);
  return name;
}
