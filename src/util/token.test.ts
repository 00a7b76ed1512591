import { describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ClusterToken, ensureTokenFile, generateToken, parseTokenFile, readTokenFile, secretsEqual } from "./token.ts";

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

describe("ClusterToken (rotation)", () => {
  test("sends the first line of its file, accepts every line, and follows the file on reload", () => {
    const dir = mkdtempSync(join(tmpdir(), "token-"));
    try {
      const file = join(dir, "cluster-token");
      writeFileSync(file, "old-token\n");
      const token = ClusterToken.fromFile(file);
      expect([token.sent, token.accepts("old-token"), token.accepts("new-token")]).toEqual(["old-token", true, false]);
      writeFileSync(file, "old-token\nnew-token\n\n");
      token.reload();
      expect([token.sent, token.count, token.accepts("old-token"), token.accepts("new-token")]).toEqual(["old-token", 2, true, true]);
      writeFileSync(file, "new-token\n");
      token.reload();
      expect([token.sent, token.accepts("old-token"), token.accepts("new-token")]).toEqual(["new-token", false, true]);
      expect(readTokenFile(dir)).toBe("new-token");
    } finally {
      rmSync(dir, { recursive: true });
    }
  });

  test("an empty file is refused on reload and the tokens in use stay", () => {
    const dir = mkdtempSync(join(tmpdir(), "token-"));
    try {
      const file = join(dir, "cluster-token");
      writeFileSync(file, "a\nb\n");
      const token = ClusterToken.fromFile(file);
      writeFileSync(file, "\n");
      expect(() => token.reload()).toThrow("holds no token");
      expect([token.sent, token.accepts("b")]).toEqual(["a", true]);
      expect(parseTokenFile(" x \n\n y\n")).toEqual(["x", "y"]);
    } finally {
      rmSync(dir, { recursive: true });
    }
  });
});
