import { describe, expect, test } from "bun:test";
import { parseCopySourceRange, parseRange } from "./range.ts";

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

describe("x-amz-copy-source-range", () => {
  const code = (header: string, size: number) => {
    try {
      return parseCopySourceRange(header, size);
    } catch (err) {
      return (err as { code: string }).code;
    }
  };
  test("bytes=first-last within the source gives [first, last + 1)", () => {
    expect(code("bytes=0-9", 100)).toEqual([0, 10]);
    expect(code("bytes=99-99", 100)).toEqual([99, 100]);
  });
  test("a range reaching past the source is InvalidRange (416), never clamped", () => {
    expect(code("bytes=0-100", 100)).toBe("InvalidRange");
    expect(code("bytes=100-200", 100)).toBe("InvalidRange");
  });
  test("open, suffix, reversed and malformed ranges are InvalidArgument", () => {
    for (const header of ["bytes=0-", "bytes=-10", "bytes=9-5", "0-9", "bytes=a-b"]) expect(code(header, 100)).toBe("InvalidArgument");
  });
});
