import { describe, expect, test } from "bun:test";
import { CliError } from "../errors.ts";
import { accessText, parseAllow } from "./s3-rights.ts";

describe("--allow BUCKET:RIGHTS", () => {
  test("names a bucket and any of read, write, owner", () => {
    expect(parseAllow("photos:read")).toEqual({ bucket: "photos", read: true, write: false, owner: false });
    expect(parseAllow("b.1:read,write,owner")).toEqual({ bucket: "b.1", read: true, write: true, owner: true });
    expect(parseAllow("logs:write")).toEqual({ bucket: "logs", read: false, write: true, owner: false });
  });
  test("refuses a missing bucket, missing rights and unknown rights", () => {
    for (const bad of ["photos", ":read", "photos:", "photos:admin", "photos:read,all"]) expect(() => parseAllow(bad)).toThrow(CliError);
  });
});

test("key list shows root, legacy full access and a scoped key's grants", () => {
  expect(accessText({ access: "root", createBucket: true, grants: [] })).toBe("root (full access)");
  expect(accessText({ access: "legacy", createBucket: false, grants: [] })).toBe("legacy full access");
  const grants = [{ bucket: "a", read: true, write: false, owner: false }, { bucket: "b", read: true, write: true, owner: true }];
  expect(accessText({ access: "scoped", createBucket: true, grants })).toBe("a:r-- b:rwo +create-bucket");
  expect(accessText({ access: "scoped", createBucket: false, grants: [] })).toBe("(nothing yet)");
});
