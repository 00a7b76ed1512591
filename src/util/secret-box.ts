import { createCipheriv, createDecipheriv, randomBytes } from "node:crypto";
import { existsSync, readFileSync, writeSync } from "node:fs";
import { dirname } from "node:path";
import { createFileDurably, fsyncDir } from "./fs.ts";

const KEY_BYTES = 32;
const IV_BYTES = 12;
const TAG_BYTES = 16;
/** Sealed values start with this, so a future algorithm can be told apart. */
const PREFIX = "aes256gcm:";

/**
 * Seals secrets with AES-256-GCM (node:crypto) under a key kept in its own
 * file, so that a copy of a database alone does not reveal what it holds.
 * Each value has a fresh 96-bit IV (NIST SP 800-38D §8.2.2) and is bound to
 * a context (its row's id) as associated data: a sealed value moved to
 * another row does not open.
 */
export class SecretBox {
  private constructor(private readonly key: Buffer) {}

  /**
   * The box whose key is in `path` (64 hex digits). When the file is missing
   * and `create` is true, a new key is written there, mode 0600 from its
   * creation, fsynced; otherwise a missing or malformed file is an error.
   */
  static fromFile(path: string, create: boolean): SecretBox {
    if (!existsSync(path)) {
      if (!create) throw new Error(`the secrets key file ${path} is missing, and the database holds secrets sealed with it; restore it from a backup`);
      const key = randomBytes(KEY_BYTES);
      createFileDurably(path, (fd) => writeSync(fd, key.toString("hex") + "\n"), 0o600);
      fsyncDir(dirname(path));
      return new SecretBox(key);
    }
    const text = readFileSync(path, "utf8").trim();
    if (!/^[0-9a-f]{64}$/.test(text)) throw new Error(`the secrets key file ${path} must hold 64 hex digits (a 256-bit key)`);
    return new SecretBox(Buffer.from(text, "hex"));
  }

  /** `plaintext` sealed for `context`. */
  seal(plaintext: string, context: string): string {
    const iv = randomBytes(IV_BYTES);
    const cipher = createCipheriv("aes-256-gcm", this.key, iv);
    cipher.setAAD(Buffer.from(context));
    const body = Buffer.concat([cipher.update(plaintext, "utf8"), cipher.final()]);
    return PREFIX + Buffer.concat([iv, body, cipher.getAuthTag()]).toString("base64");
  }

  /** The plaintext of a value sealed for `context`; throws when the key, the context or the value is wrong. */
  open(sealed: string, context: string): string {
    if (!sealed.startsWith(PREFIX)) throw new Error("the value is not sealed");
    const raw = Buffer.from(sealed.slice(PREFIX.length), "base64");
    if (raw.length < IV_BYTES + TAG_BYTES) throw new Error("the sealed value is truncated");
    const decipher = createDecipheriv("aes-256-gcm", this.key, raw.subarray(0, IV_BYTES));
    decipher.setAAD(Buffer.from(context));
    decipher.setAuthTag(raw.subarray(raw.length - TAG_BYTES));
    return Buffer.concat([decipher.update(raw.subarray(IV_BYTES, raw.length - TAG_BYTES)), decipher.final()]).toString("utf8");
  }
}
