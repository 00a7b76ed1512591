import { describe, expect, test } from "bun:test";
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { SecretBox } from "./secret-box.ts";

function withDir(run: (dir: string) => void): void {
  const dir = mkdtempSync(join(tmpdir(), "photon-secretbox-"));
  try {
    run(dir);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

describe("SecretBox", () => {
  test("creates its key file 0600 and seals a value that only it opens, for the same context", () =>
    withDir((dir) => {
      const path = join(dir, "secrets.key");
      const box = SecretBox.fromFile(path, true);
      expect(statSync(path).mode & 0o777).toBe(0o600);
      const sealed = box.seal("s3cr3t-value", "AKID1");
      expect(sealed).not.toContain("s3cr3t");
      expect(box.seal("s3cr3t-value", "AKID1")).not.toBe(sealed); // a fresh IV each time
      expect(box.open(sealed, "AKID1")).toBe("s3cr3t-value");
      expect(SecretBox.fromFile(path, false).open(sealed, "AKID1")).toBe("s3cr3t-value");
      expect(() => box.open(sealed, "AKID2")).toThrow();
    }));

  test("another key, a tampered value or a plaintext value does not open", () =>
    withDir((dir) => {
      const box = SecretBox.fromFile(join(dir, "a.key"), true);
      const other = SecretBox.fromFile(join(dir, "b.key"), true);
      const sealed = box.seal("value", "ctx");
      expect(() => other.open(sealed, "ctx")).toThrow();
      const raw = Buffer.from(sealed.slice("aes256gcm:".length), "base64");
      raw[14] = raw[14]! ^ 1;
      expect(() => box.open("aes256gcm:" + raw.toString("base64"), "ctx")).toThrow();
      expect(() => box.open("value", "ctx")).toThrow("not sealed");
    }));

  test("a missing key file is an error unless creating; a malformed one always is", () =>
    withDir((dir) => {
      expect(() => SecretBox.fromFile(join(dir, "none.key"), false)).toThrow("missing");
      writeFileSync(join(dir, "bad.key"), "not hex\n");
      expect(() => SecretBox.fromFile(join(dir, "bad.key"), true)).toThrow("64 hex digits");
      expect(readFileSync(join(dir, "bad.key"), "utf8")).toBe("not hex\n");
    }));
});
