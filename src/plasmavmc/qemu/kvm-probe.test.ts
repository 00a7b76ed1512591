import { describe, expect, test } from "bun:test";
import { probeAccel, probeFirmware } from "./kvm-probe.ts";

describe("accelerator probe", () => {
  test("the probe firmware's reset vector jumps into the image, which QEMU maps at F000:0", () => {
    const image = probeFirmware();
    expect(image.length).toBe(64 * 1024);
    expect([...image.subarray(image.length - 16, image.length - 11)]).toEqual([0xea, 0x00, 0x01, 0x00, 0xf0]);
  });

  test("the probe guest runs to its exit under TCG", async () => {
    expect(await probeAccel({ qemuBinary: "qemu-system-x86_64", accel: "tcg", timeoutMs: 20_000 })).toEqual({ accel: "tcg", ms: expect.any(Number) });
  });

  test("without a KVM device the answer is TCG, with the reason", async () => {
    const result = await probeAccel({ qemuBinary: "qemu-system-x86_64", kvmDevice: "/nonexistent/kvm" });
    expect(result.accel).toBe("tcg");
    expect(result.reason).toContain("no usable /dev/kvm");
  });

  test("a QEMU that cannot start is reported, not trusted", async () => {
    const result = await probeAccel({ qemuBinary: "false", accel: "tcg" });
    expect(result).toEqual({ accel: "tcg", reason: expect.stringContaining("exited with 1"), ms: expect.any(Number) });
  });
});
