import { describe, expect, test } from "bun:test";
import { parseRange } from "./range.ts";

describe("Range header", () => {
  test("bytes=a-b, bytes=a- and bytes=-n give [start, end), clamped to the object", () => {
    expect(parseRange("bytes=0-9", 100)).toEqual([0, 10]);
    expect(parseRange("bytes=90-200", 100)).toEqual([90, 100]);
    expect(parseRange("bytes=50-", 100)).toEqual([50, 100]);
    expect(parseRange("bytes=-10", 100)).toEqual([90, 100]);
    expect(parseRange("bytes=-500", 100)).toEqual([0, 100]);
    expect(parseRange(" bytes=99-99 ", 100)).toEqual([99, 100]);
  });
  test("a start past the end and an empty suffix are unsatisfiable (416)", () => {
    expect(parseRange("bytes=100-", 100)).toBe("unsatisfiable");
    expect(parseRange("bytes=100-200", 100)).toBe("unsatisfiable");
    expect(parseRange("bytes=-0", 100)).toBe("unsatisfiable");
    expect(parseRange("bytes=0-", 0)).toBe("unsatisfiable");
  });
  test("no header, a malformed one, several ranges or an end before the start are ignored: the whole object", () => {
    for (const header of [null, "", "bytes=-", "bytes=a-b", "items=0-9", "bytes=0-9,20-29", "bytes=10-5", "bytes 0-9"]) expect(parseRange(header, 100)).toBeUndefined();
  });
});
