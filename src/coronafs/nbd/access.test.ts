import { describe, expect, test } from "bun:test";
import { AccessList } from "./access.ts";

describe("NBD access lists", () => {
  const list = AccessList.parse(
    [
      "# identity  volume-glob  rw|ro",
      "alice vm-*      rw",
      "alice base-*    ro   # golden images",
      "bob   vm-bob    rw",
      "bob   *         ro",
      "*     public-*  ro",
    ].join("\n"),
  );

  test("the first matching rule decides", () => {
    expect(list.grant("alice", "vm-1")).toBe("rw");
    expect(list.grant("alice", "base-debian")).toBe("ro");
    expect(list.grant("bob", "vm-bob")).toBe("rw");
    expect(list.grant("bob", "vm-1")).toBe("ro");
  });

  test("an identity without a matching rule, or no identity at all, may open nothing", () => {
    expect(list.grant("alice", "other")).toBeUndefined();
    expect(list.grant("mallory", "vm-1")).toBeUndefined();
    expect(list.grant(undefined, "public-iso")).toBeUndefined();
  });

  test("the * identity matches any authenticated client", () => {
    expect(list.grant("mallory", "public-iso")).toBe("ro");
  });

  test("a bad line is reported with its number", () => {
    expect(() => AccessList.parse("alice vm-* rw\nbob vm-*\n", "acl")).toThrow('acl line 2: expected "identity volume-glob rw|ro"');
    expect(() => AccessList.parse("alice vm-* write\n")).toThrow(/line 1/);
    expect(() => AccessList.parse("alice vm-* rw extra\n")).toThrow(/line 1/);
  });
});
