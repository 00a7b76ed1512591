import { describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ensureTokenFile, generateToken, readTokenFile, secretsEqual } from "./token.ts";

describe("cluster token", () => {
  test("is created once with mode 0600 and then reused", () => {
    const dir = mkdtempSync(join(tmpdir(), "token-"));
    try {
      expect(readTokenFile(dir)).toBeUndefined();
      const first = ensureTokenFile(dir);
      expect(first.created).toBe(true);
      expect(statSync(join(dir, "cluster-token")).mode & 0o777).toBe(0o600);
      expect(ensureTokenFile(dir)).toEqual({ token: first.token, created: false });
      expect(readTokenFile(dir)).toBe(first.token);
    } finally {
      rmSync(dir, { recursive: true });
    }
  });

  test("fresh tokens differ and carry 256 bits", () => {
    const a = generateToken();
    expect(a).not.toBe(generateToken());
    expect(Buffer.from(a, "base64url").length).toBe(32);
  });

  test("secretsEqual matches only identical secrets, of any length", () => {
    expect(secretsEqual("abc", "abc")).toBe(true);
    expect(secretsEqual("abc", "abd")).toBe(false);
    expect(secretsEqual("abc", "abcd")).toBe(false);
    expect(secretsEqual("", "x")).toBe(false);
  });
});
