import { describe, expect, test } from "bun:test";
import { foreignFormatAdvice, recognizeForeignFormat } from "./foreign-format.ts";

const at = (offset: number, bytes: Uint8Array | string) => {
  const data = Buffer.alloc(512);
  (typeof bytes === "string" ? Buffer.from(bytes, "latin1") : Buffer.from(bytes)).copy(data, offset);
  return data;
};
const none = Buffer.alloc(512);

describe("foreign image formats", () => {
  test("VMDK, VDI, VHDX, dynamic VHD, QED, LUKS and qcow v1 are recognized by their header magic", () => {
    expect(recognizeForeignFormat(at(0, "KDMV"), none)?.qemu).toBe("vmdk");
    expect(recognizeForeignFormat(at(0, "# Disk DescriptorFile\n"), none)?.qemu).toBe("vmdk");
    expect(recognizeForeignFormat(at(0x40, Uint8Array.of(0x7f, 0x10, 0xda, 0xbe)), none)?.qemu).toBe("vdi");
    expect(recognizeForeignFormat(at(0, "vhdxfile"), none)?.qemu).toBe("vhdx");
    expect(recognizeForeignFormat(at(0, "conectix"), none)?.qemu).toBe("vpc");
    expect(recognizeForeignFormat(at(0, "QED\0"), none)?.qemu).toBe("qed");
    expect(recognizeForeignFormat(at(0, Uint8Array.of(0x4c, 0x55, 0x4b, 0x53, 0xba, 0xbe)), none)?.qemu).toBe("luks");
    expect(recognizeForeignFormat(at(0, Uint8Array.of(0x51, 0x46, 0x49, 0xfb, 0, 0, 0, 1)), none)?.qemu).toBe("qcow");
  });

  test("a fixed VHD and a DMG are recognized by their footer", () => {
    expect(recognizeForeignFormat(none, at(0, "conectix"))?.name).toBe("VHD");
    expect(recognizeForeignFormat(none, at(0, "koly"))?.name).toBe("DMG");
  });

  test("raw and qcow2 v2/v3 images are not foreign", () => {
    expect(recognizeForeignFormat(none, none)).toBeUndefined();
    expect(recognizeForeignFormat(at(0, Uint8Array.of(0x51, 0x46, 0x49, 0xfb, 0, 0, 0, 3)), none)).toBeUndefined();
    expect(recognizeForeignFormat(Buffer.alloc(3), Buffer.alloc(3))).toBeUndefined();
  });

  test("the advice names the format and the qemu-img command that converts it", () => {
    expect(foreignFormatAdvice({ name: "VDI", qemu: "vdi" }, "disk.vdi")).toContain("qemu-img convert -f vdi -O qcow2 disk.vdi disk.qcow2");
  });
});
