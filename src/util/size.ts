const units: Record<string, number> = { "": 1, b: 1, k: 2 ** 10, m: 2 ** 20, g: 2 ** 30, t: 2 ** 40, p: 2 ** 50 };

/**
 * Parses a byte size like qemu-img does: a number with an optional binary
 * suffix (`512`, `64K`, `10G`, `1.5TiB`). Returns undefined when it is not one.
 */
export function parseSize(text: string | number): number | undefined {
  if (typeof text === "number") return Number.isSafeInteger(text) && text >= 0 ? text : undefined;
  const match = /^\s*(\d+(?:\.\d+)?)\s*([bkmgtp]?)(?:i?b)?\s*$/i.exec(text);
  if (!match) return undefined;
  const value = Math.round(Number(match[1]) * units[match[2]!.toLowerCase()]!);
  return Number.isSafeInteger(value) ? value : undefined;
}
