import { describe, expect, test } from "bun:test";
import { buildImage, parseHeader } from "./header.ts";

describe("qcow2 header", () => {
  test("a built image parses back with its size, cluster size and backing file", () => {
    const image = buildImage({ size: 10 * 2 ** 30, backingFile: "base.raw", backingFormat: "raw" });
    const header = parseHeader(image, image.length);
    expect(header).toMatchObject({ version: 3, clusterBits: 16, size: 10 * 2 ** 30, refcountOrder: 4, backingFile: "base.raw", backingFormat: "raw" });
    expect(header.l1Size).toBe(20); // 512 MiB per L2 table with 64 KiB clusters
  });

  test("tables must lie inside the file and apart from each other", () => {
    const image = buildImage({ size: 2 ** 30 });
    expect(() => parseHeader(image, 3 * 65536)).toThrow("beyond the end of the file");
    const overlapping = Buffer.from(image);
    overlapping.writeBigUInt64BE(overlapping.readBigUInt64BE(48), 40);
    expect(() => parseHeader(overlapping, overlapping.length)).toThrow("overlap");
  });

  test("an L1 table too small for the virtual size is refused", () => {
    const image = buildImage({ size: 2 ** 30 });
    image.writeBigUInt64BE(BigInt(2 ** 40), 24);
    expect(() => parseHeader(image, image.length)).toThrow("too small");
  });

  test("a backing name outside the header cluster is refused", () => {
    const image = buildImage({ size: 2 ** 20, backingFile: "b" });
    image.writeBigUInt64BE(BigInt(65530), 8);
    image.writeUInt32BE(100, 16);
    expect(() => parseHeader(image, image.length)).toThrow("outside the header cluster");
  });
});
