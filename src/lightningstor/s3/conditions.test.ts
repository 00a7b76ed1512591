import { describe, expect, test } from "bun:test";
import { checkConditions } from "./conditions.ts";
import { S3Error } from "./errors.ts";

const row = { etag: '"abc"', lastModified: new Date("2024-05-01T12:00:00.750Z") };
const check = (headers: Record<string, string>) => checkConditions(new Headers(headers), row);
const failed = (headers: Record<string, string>) => {
  try {
    check(headers);
  } catch (err) {
    return err instanceof S3Error && err.code === "PreconditionFailed";
  }
  return false;
};
const before = "Wed, 01 May 2024 11:00:00 GMT";
const same = "Wed, 01 May 2024 12:00:00 GMT"; // Last-Modified is sent in whole seconds
const after = "Wed, 01 May 2024 13:00:00 GMT";

describe("conditional requests (RFC 9110, section 13)", () => {
  test("no conditions: served", () => expect(check({})).toBe(false));
  test("If-Match: served when an ETag matches or is *, else PreconditionFailed", () => {
    expect(check({ "if-match": '"x", "abc"' })).toBe(false);
    expect(check({ "if-match": "*" })).toBe(false);
    expect(failed({ "if-match": '"x"' })).toBe(true);
  });
  test("If-Unmodified-Since: PreconditionFailed when modified after it, ignored under If-Match", () => {
    expect(check({ "if-unmodified-since": same })).toBe(false);
    expect(failed({ "if-unmodified-since": before })).toBe(true);
    expect(check({ "if-match": '"abc"', "if-unmodified-since": before })).toBe(false);
  });
  test("If-None-Match: not modified when an ETag matches or is *", () => {
    expect(check({ "if-none-match": '"abc"' })).toBe(true);
    expect(check({ "if-none-match": "*" })).toBe(true);
    expect(check({ "if-none-match": '"x"' })).toBe(false);
  });
  test("If-Modified-Since: not modified unless modified after it, ignored under If-None-Match", () => {
    expect(check({ "if-modified-since": same })).toBe(true);
    expect(check({ "if-modified-since": after })).toBe(true);
    expect(check({ "if-modified-since": before })).toBe(false);
    expect(check({ "if-none-match": '"x"', "if-modified-since": after })).toBe(false);
  });
  test("a malformed date is ignored", () => {
    expect(check({ "if-modified-since": "yesterday" })).toBe(false);
    expect(check({ "if-unmodified-since": "yesterday" })).toBe(false);
  });
});
