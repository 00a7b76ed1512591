import { readFileSync } from "node:fs";

/** PSK identities and their keys. */
export type PskKeys = ReadonlyMap<string, Buffer>;

/**
 * Parses a PSK file in GnuTLS `psktool` format, as qemu-nbd and nbdkit read
 * it: one `identity:hexkey` per line. Throws with the line number of the
 * first bad line; an empty file is an error too (nobody could connect).
 */
export function parsePskFile(text: string, source = "PSK file"): PskKeys {
  const keys = new Map<string, Buffer>();
  text.split("\n").forEach((raw, index) => {
    const line = raw.trim();
    if (line === "") return;
    const colon = line.lastIndexOf(":");
    const identity = line.slice(0, colon);
    const hex = line.slice(colon + 1);
    if (colon <= 0 || !/^([0-9a-fA-F]{2})+$/.test(hex)) {
      throw new Error(`${source} line ${index + 1}: expected identity:hexkey (psktool format)`);
    }
    if (keys.has(identity)) throw new Error(`${source} line ${index + 1}: identity "${identity}" appears twice`);
    keys.set(identity, Buffer.from(hex, "hex"));
  });
  if (keys.size === 0) throw new Error(`${source}: no identity:hexkey line`);
  return keys;
}

/** Reads and parses a psktool file. */
export function readPskFile(path: string): PskKeys {
  return parsePskFile(readFileSync(path, "utf8"), path);
}
