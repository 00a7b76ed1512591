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

/** The tokens of a token file: one per line (two while a rotation is under way), blank lines ignored. */
export function parseTokenFile(text: string): string[] {
  return text.split("\n").map((line) => line.trim()).filter((line) => line !== "");
}

/** The token `<dataDir>/cluster-token` says to send (its first line), or undefined when there is none. */
export function readTokenFile(dataDir: string): string | undefined {
  const path = join(dataDir, tokenFileName);
  if (!existsSync(path)) return undefined;
  return parseTokenFile(readFileSync(path, "utf8"))[0];
}

/** Returns the data dir's token (the one sent), creating the file (mode 0600, fsynced) when missing. */
export function ensureTokenFile(dataDir: string): { token: string; created: boolean } {
  const existing = readTokenFile(dataDir);
  if (existing) return { token: existing, created: false };
  const token = generateToken();
  writeFileAtomic(join(dataDir, tokenFileName), token + "\n", 0o600);
  return { token, created: true };
}

/**
 * The cluster token as a server process holds it: the first token is the one
 * it sends to other nodes, and every token is accepted. A token file with two
 * lines is how the token is rotated without downtime (README, "Rotation"):
 * `reload()` (SIGHUP) rereads it, for what is sent and what is accepted.
 */
export class ClusterToken {
  private tokens: string[];

  constructor(
    tokens: string[],
    /** The file the tokens came from; without one, `reload` keeps them. */
    readonly file?: string,
  ) {
    if (tokens.length === 0) throw new Error(file ? `${file} holds no token` : "no cluster token");
    this.tokens = tokens;
  }

  /** The tokens of a token file. */
  static fromFile(file: string): ClusterToken {
    return new ClusterToken(parseTokenFile(readFileSync(file, "utf8")), file);
  }

  /** What this process sends. */
  get sent(): string {
    return this.tokens[0]!;
  }

  /** How many tokens are accepted (2 during a rotation). */
  get count(): number {
    return this.tokens.length;
  }

  /** Whether `given` is one of the tokens, compared in constant time with each. */
  accepts(given: string): boolean {
    return this.tokens.map((token) => secretsEqual(given, token)).includes(true);
  }

  /** Rereads the file; throws (keeping the tokens in use) when it cannot be read or is empty. */
  reload(): void {
    if (!this.file) return;
    this.tokens = ClusterToken.fromFile(this.file).tokens;
  }
}

/** A token as the code that sends or checks one takes it: fixed, or a server's reloadable {@link ClusterToken}. */
export type TokenLike = string | ClusterToken;

/** The token to send. */
export function sentToken(token: TokenLike): string {
  return typeof token === "string" ? token : token.sent;
}

/** Whether `given` is accepted. */
export function tokenAccepts(token: TokenLike, given: string): boolean {
  return typeof token === "string" ? secretsEqual(given, token) : token.accepts(given);
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
