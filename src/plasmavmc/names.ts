import { invalid } from "./errors.ts";

/**
 * Refuses a name that cannot be used for an image, a volume or a VM: at most
 * 100 characters (CoronaFS's volume names, minus room for `-root`/`-dataN`),
 * 63 for a VM (a directory and QEMU `-name` on the agent).
 */
export function checkName(field: string, name: string, maxLength = 100): string {
  if (!/^[A-Za-z0-9][A-Za-z0-9._-]*$/.test(name) || name.length > maxLength) {
    throw invalid(field, `"${name}" is not a valid name: 1-${maxLength} characters of A-Z a-z 0-9 . _ -, starting with a letter or digit`);
  }
  return name;
}
