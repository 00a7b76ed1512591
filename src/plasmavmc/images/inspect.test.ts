import { describe, expect, test } from "bun:test";
import { createHash } from "node:crypto";
import { buildImage } from "../../coronafs/qcow2/header.ts";
import { ImageFormatError, ImageInspector } from "./inspect.ts";

function inspect(...chunks: Uint8Array[]) {
  const inspector = new ImageInspector();
  for (const chunk of chunks) inspector.update(chunk);
  return inspector.facts();
}

describe("image inspection", () => {
  test("a raw image is its own virtual size, and the digest covers every chunk", () => {
    const a = Buffer.alloc(1024, 1);
    const b = Buffer.alloc(512, 2);
    const facts = inspect(a, b);
    expect(facts).toEqual({ format: "raw", virtualSize: 1536, artifactSize: 1536, sha256: createHash("sha256").update(a).update(b).digest("hex") });
  });

  test("a qcow2 image reports the virtual size of its header, however it is split", () => {
    const image = buildImage({ size: 64 * 1024 * 1024, clusterBits: 16 });
    const facts = inspect(image.subarray(0, 3), image.subarray(3, 100), image.subarray(100));
    expect(facts.format).toBe("qcow2");
    expect(facts.virtualSize).toBe(64 * 1024 * 1024);
    expect(facts.artifactSize).toBe(image.length);
  });

  test("hostile or unusable images are refused with the reason", () => {
    const image = buildImage({ size: 1024 * 1024, clusterBits: 16 });
    const hostile = Buffer.from(image);
    hostile.writeUInt32BE(40, 20); // cluster_bits
    expect(() => inspect(hostile)).toThrow(/cluster_bits/);
    const backed = buildImage({ size: 1024 * 1024, clusterBits: 16, backingFile: "base.raw", backingFormat: "raw" });
    expect(() => inspect(backed)).toThrow(/backing file/);
    expect(() => inspect()).toThrow(ImageFormatError);
    expect(() => inspect(Buffer.alloc(1000))).toThrow(/512-byte sectors/);
    const vmdk = Buffer.alloc(4096);
    vmdk.write("KDMV", 0, "latin1");
    expect(() => inspect(vmdk)).toThrow(/VMDK.*qemu-img convert -f vmdk -O qcow2/);
    const fixedVhd = Buffer.alloc(4096);
    fixedVhd.write("conectix", 4096 - 512, "latin1");
    expect(() => inspect(fixedVhd.subarray(0, 1000), fixedVhd.subarray(1000))).toThrow(/VHD/);
  });
});
