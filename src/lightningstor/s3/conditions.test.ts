import { describe, expect, test } from "bun:test";
import { checkConditions, checkWriteConditions } from "./conditions.ts";
import { S3Error } from "./errors.ts";

const row = { etag: '"abc"', lastModified: new Date("2024-05-01T12:00:00.750Z") };
const before = "Wed, 01 May 2024 11:00:00 GMT";
const same = "Wed, 01 May 2024 12:00:00 GMT"; // Last-Modified is sent in whole seconds
const after = "Wed, 01 May 2024 13:00:00 GMT";

/** Headers, and what they give: "serve", "not modified" (304) or "failed" (412). */
const cases: [string, Record<string, string>, "serve" | "not modified" | "failed"][] = [
  ["no conditions", {}, "serve"],
  ["If-Match with a matching ETag among others", { "if-match": '"x", "abc"' }, "serve"],
  ["If-Match: *", { "if-match": "*" }, "serve"],
  ["If-Match with no matching ETag", { "if-match": '"x"' }, "failed"],
  ["If-Unmodified-Since the modification", { "if-unmodified-since": same }, "serve"],
  ["If-Unmodified-Since before the modification", { "if-unmodified-since": before }, "failed"],
  ["If-Unmodified-Since under a matching If-Match (ignored)", { "if-match": '"abc"', "if-unmodified-since": before }, "serve"],
  ["If-None-Match with the ETag", { "if-none-match": '"abc"' }, "not modified"],
  ["If-None-Match: *", { "if-none-match": "*" }, "not modified"],
  ["If-None-Match with another ETag", { "if-none-match": '"x"' }, "serve"],
  ["If-Modified-Since the modification", { "if-modified-since": same }, "not modified"],
  ["If-Modified-Since after the modification", { "if-modified-since": after }, "not modified"],
  ["If-Modified-Since before the modification", { "if-modified-since": before }, "serve"],
  ["If-Modified-Since under a non-matching If-None-Match (ignored)", { "if-none-match": '"x"', "if-modified-since": after }, "serve"],
  ["a malformed If-Modified-Since (ignored)", { "if-modified-since": "yesterday" }, "serve"],
  ["a malformed If-Unmodified-Since (ignored)", { "if-unmodified-since": "yesterday" }, "serve"],
];

describe("conditional requests (RFC 9110, section 13)", () => {
  for (const [name, headers, outcome] of cases) {
    test(`${name}: ${outcome}`, () => {
      let got: string;
      try {
        got = checkConditions(new Headers(headers), row) ? "not modified" : "serve";
      } catch (err) {
        got = err instanceof S3Error && err.code === "PreconditionFailed" ? "failed" : String(err);
      }
      expect(got).toBe(outcome);
    });
  }
});

describe("conditional writes (If-None-Match: *, If-Match)", () => {
  const outcome = (headers: Record<string, string>, current: { etag: string } | undefined) => {
    try {
      checkWriteConditions(new Headers(headers), current);
      return "write";
    } catch (err) {
      return (err as S3Error).code;
    }
  };
  test("If-None-Match: * writes only when the key is absent", () => {
    expect(outcome({ "if-none-match": "*" }, undefined)).toBe("write");
    expect(outcome({ "if-none-match": "*" }, row)).toBe("PreconditionFailed");
  });
  test("If-Match writes only over a present object with a listed ETag (quoted or not)", () => {
    expect(outcome({ "if-match": '"abc"' }, row)).toBe("write");
    expect(outcome({ "if-match": "abc" }, row)).toBe("write");
    expect(outcome({ "if-match": '"x", "abc"' }, row)).toBe("write");
    expect(outcome({ "if-match": "*" }, row)).toBe("write");
    expect(outcome({ "if-match": '"x"' }, row)).toBe("PreconditionFailed");
    expect(outcome({ "if-match": '"abc"' }, undefined)).toBe("PreconditionFailed");
    expect(outcome({ "if-match": "*" }, undefined)).toBe("PreconditionFailed");
  });
  test("no condition always writes; If-None-Match with an ETag is not offered on writes", () => {
    expect(outcome({}, row)).toBe("write");
    expect(outcome({}, undefined)).toBe("write");
    expect(outcome({ "if-none-match": '"abc"' }, undefined)).toBe("NotImplemented");
  });
});
