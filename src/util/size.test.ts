import { expect, test } from "bun:test";
import { parseSize } from "./size.ts";

test("sizes parse like qemu-img's, in binary units", () => {
  expect(parseSize("512")).toBe(512);
  expect(parseSize("64K")).toBe(65536);
  expect(parseSize("10G")).toBe(10 * 2 ** 30);
  expect(parseSize("1.5GiB")).toBe(1.5 * 2 ** 30);
  expect(parseSize("2 MB")).toBe(2 * 2 ** 20);
  expect(parseSize(4096)).toBe(4096);
  for (const bad of ["", "ten", "-1G", "1X", "1.5.5M", -1, 1.5]) expect(parseSize(bad)).toBeUndefined();
});
