import { createHash, randomBytes, timingSafeEqual } from "node:crypto";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { writeFileAtomic } from "./fs.ts";

/** The name of the cluster token file inside a data dir. */
export const tokenFileName = "cluster-token";

/** A fresh random cluster token (256 bits, URL-safe). */
export function generateToken(): string {
  return randomBytes(32).toString("base64url");
}

/** Reads `<dataDir>/cluster-token`, or undefined when there is none. */
export function readTokenFile(dataDir: string): string | undefined {
  const path = join(dataDir, tokenFileName);
  if (!existsSync(path)) return undefined;
  const token = readFileSync(path, "utf8").trim();
  return token === "" ? undefined : token;
}

/** Returns the data dir's token, creating it (mode 0600, fsynced) when missing. */
export function ensureTokenFile(dataDir: string): { token: string; created: boolean } {
  const existing = readTokenFile(dataDir);
  if (existing) return { token: existing, created: false };
  const token = generateToken();
  writeFileAtomic(join(dataDir, tokenFileName), token + "\n", 0o600);
  return { token, created: true };
}

/**
 * Compares two secrets in constant time. Both sides are hashed first so that
 * neither the content nor the length of the expected secret leaks through timing.
 */
export function secretsEqual(given: string, expected: string): boolean {
  const a = createHash("sha256").update(given).digest();
  const b = createHash("sha256").update(expected).digest();
  return timingSafeEqual(a, b);
}
