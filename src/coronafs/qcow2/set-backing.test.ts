import { afterEach, describe, expect, test } from "bun:test";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { buildImage, parseHeader } from "./header.ts";
import { setBackingFile } from "./set-backing.ts";

const dir = mkdtempSync(join(tmpdir(), "photon-set-backing-"));
afterEach(() => rmSync(join(dir, "image"), { force: true }));

const headerOf = (path: string) => {
  const bytes = readFileSync(path);
  return parseHeader(bytes, bytes.length);
};

describe("pointing a qcow2 image at another backing file", () => {
  test("the name and the backing format extension are replaced; size and tables stay", () => {
    const path = join(dir, "image");
    writeFileSync(path, buildImage({ size: 3 * 2 ** 30, backingFile: "/somewhere/else/base.qcow2", backingFormat: "qcow2" }));
    const before = headerOf(path);
    setBackingFile(path, { file: "0b7c3f.raw", format: "raw" });
    const after = headerOf(path);
    expect(after).toMatchObject({ backingFile: "0b7c3f.raw", backingFormat: "raw", size: before.size, l1TableOffset: before.l1TableOffset });
  });

  test("an image without a backing file is refused: it is not an overlay", () => {
    const path = join(dir, "image");
    writeFileSync(path, buildImage({ size: 2 ** 20 }));
    expect(() => setBackingFile(path, { file: "base.qcow2", format: "qcow2" })).toThrow("not an overlay");
  });

  test("a name that does not fit the header cluster is refused and the image left alone", () => {
    const path = join(dir, "image");
    writeFileSync(path, buildImage({ size: 2 ** 20, clusterBits: 9, backingFile: "b", backingFormat: "raw" }));
    const before = readFileSync(path);
    expect(() => setBackingFile(path, { file: "x".repeat(400), format: "raw" })).toThrow("no room for the backing file name");
    expect(readFileSync(path).equals(before)).toBe(true);
  });
});
