import { CliError } from "../errors.ts";

/** A key's rights on one bucket, as the admin API takes and answers them. */
export interface Grant {
  bucket: string;
  read: boolean;
  write: boolean;
  owner: boolean;
}

const rightNames = ["read", "write", "owner"] as const;

/** `BUCKET:read,write,owner` (any of the three, comma-separated), the value of `--allow`. */
export function parseAllow(text: string): Grant {
  const colon = text.lastIndexOf(":");
  const bucket = colon > 0 ? text.slice(0, colon) : "";
  const names = colon > 0 ? text.slice(colon + 1).split(",").filter((r) => r !== "") : [];
  if (bucket === "" || names.length === 0) throw new CliError(`--allow "${text}": write BUCKET:RIGHTS, RIGHTS being read, write and/or owner separated by commas`);
  const unknown = names.find((n) => !(rightNames as readonly string[]).includes(n));
  if (unknown) throw new CliError(`--allow "${text}": "${unknown}" is not a right (read, write, owner)`);
  return { bucket, read: names.includes("read"), write: names.includes("write"), owner: names.includes("owner") };
}

/** Rights in the short form `key list` and `bucket info` show: `rwo`, a dash for each missing one. */
export function rightsText(g: Omit<Grant, "bucket">): string {
  return `${g.read ? "r" : "-"}${g.write ? "w" : "-"}${g.owner ? "o" : "-"}`;
}

/** What a key may do, in one cell of `key list`. */
export function accessText(key: { access: string; createBucket: boolean; grants: Grant[] }): string {
  if (key.access === "root") return "root (full access)";
  if (key.access === "legacy") return "legacy full access";
  const parts = key.grants.map((g) => `${g.bucket}:${rightsText(g)}`);
  if (key.createBucket) parts.push("+create-bucket");
  return parts.length > 0 ? parts.join(" ") : "(nothing yet)";
}
