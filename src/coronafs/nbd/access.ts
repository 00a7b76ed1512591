import { readFileSync } from "node:fs";

/** What a client may do with an export. */
export type Grant = "rw" | "ro";

/** One line of an access file. */
interface AccessRule {
  identity: string;
  glob: Bun.Glob;
  grant: Grant;
}

/**
 * Which exports each TLS identity (a PSK username, or a verified client
 * certificate's common name) may open, read-write or read-only. The first
 * rule whose identity and volume glob match decides; no match means the
 * export is refused (NBD_REP_ERR_POLICY), and so does having no identity.
 */
export class AccessList {
  private constructor(private readonly rules: readonly AccessRule[]) {}

  /**
   * Parses lines `identity volume-glob rw|ro` (`#` starts a comment; `*` as
   * the identity matches any authenticated client). Throws with the line
   * number of the first bad line.
   */
  static parse(text: string, source = "access file"): AccessList {
    const rules: AccessRule[] = [];
    text.split("\n").forEach((raw, index) => {
      const line = raw.replace(/#.*/, "").trim();
      if (line === "") return;
      const [identity, glob, grant, ...extra] = line.split(/\s+/);
      if (!identity || !glob || (grant !== "rw" && grant !== "ro") || extra.length > 0) {
        throw new Error(`${source} line ${index + 1}: expected "identity volume-glob rw|ro"`);
      }
      rules.push({ identity, glob: new Bun.Glob(glob), grant });
    });
    return new AccessList(rules);
  }

  /** Reads and parses an access file. */
  static read(path: string): AccessList {
    return AccessList.parse(readFileSync(path, "utf8"), path);
  }

  /** What `identity` may do with `exportName`; undefined when it may not open it. */
  grant(identity: string | undefined, exportName: string): Grant | undefined {
    if (identity === undefined) return undefined;
    for (const rule of this.rules) {
      if ((rule.identity === identity || rule.identity === "*") && rule.glob.match(exportName)) return rule.grant;
    }
    return undefined;
  }
}
