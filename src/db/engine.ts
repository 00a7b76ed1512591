/**
 * Where a mode keeps its metadata: the embedded SQLite file in its data dir
 * (the default, for one machine), or a PostgreSQL database that several
 * processes share (`--metadata postgres://user@host/db`, `?host=/dir` for a unix socket).
 */
export type MetadataEngine = { kind: "sqlite" } | { kind: "postgres"; url: string };

/** Thrown for a `--metadata` value that names no engine. */
export class MetadataSettingError extends Error {
  override name = "MetadataSettingError";
}

/** Parses `--metadata`: `sqlite` (or nothing) or a `postgres://` / `postgresql://` URL. */
export function parseMetadataEngine(raw: string | undefined): MetadataEngine {
  if (raw === undefined || raw === "" || raw === "sqlite") return { kind: "sqlite" };
  if (/^postgres(ql)?:\/\//.test(raw)) {
    try {
      new URL(raw);
    } catch {
      throw new MetadataSettingError(`--metadata: "${redactUrl(raw)}" is not a valid URL`);
    }
    return { kind: "postgres", url: raw };
  }
  throw new MetadataSettingError(`--metadata: expected "sqlite" or a postgres://… URL, not "${redactUrl(raw)}"`);
}

/** The URL without its password, for logs and errors. */
export function redactUrl(raw: string): string {
  return raw.replace(/(\/\/[^:/@]*:)[^@/]*@/, "$1***@");
}
