import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { randomBytes } from "node:crypto";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { mustRun, run, startExport, type TestExport } from "../helpers/nbd-export.ts";
import { tempDir } from "../helpers/photon.ts";

const MiB = 1024 * 1024;
let ex: TestExport;
const scratch = tempDir("photon-qemu-");
beforeAll(async () => {
  ex = await startExport();
});
afterAll(async () => {
  await ex[Symbol.asyncDispose]();
  scratch[Symbol.dispose]();
});

/** Runs qemu-io commands against an NBD URI; returns stdout, failing on a non-zero exit. */
const qemuIo = (uri: string, ...commands: string[]) => mustRun(["qemu-io", "-f", "raw", ...commands.flatMap((c) => ["-c", c]), uri]);

describe("QEMU and libnbd tools against the export", () => {
  test("qemu-img info sees the size over nbd:// and nbd+unix://", async () => {
    await ex.createVolume("info", "48M");
    for (const uri of [ex.tcpUri("info"), ex.unixUri("info")]) {
      const info = JSON.parse(await mustRun(["qemu-img", "info", "--output=json", uri])) as { "virtual-size": number };
      expect(info["virtual-size"]).toBe(48 * MiB);
    }
  });

  test("qemu-io patterns, unaligned 512-byte I/O and writes ending exactly at the end read back", async () => {
    const size = 8 * MiB;
    await ex.createVolume("pattern", size);
    const uri = ex.tcpUri("pattern");
    await qemuIo(uri, "write -P 0xaa 0 64k", "write -P 0xbb 513 512", `write -P 0xcc ${size - 4096} 4096`, "write -P 0xdd 1000001 3333");
    const out = await qemuIo(
      uri,
      "read -P 0xaa 0 513",
      "read -P 0xbb 513 512",
      "read -P 0xaa 1025 64511",
      `read -P 0xcc ${size - 4096} 4096`,
      "read -P 0xdd 1000001 3333",
      "read -P 0 1003334 4096",
    );
    expect(out).not.toContain("Pattern verification failed");
    // One byte past the end is refused and changes nothing.
    const past = await run(["qemu-io", "-f", "raw", "-c", `write -P 0xee ${size - 512} 1024`, uri]);
    expect(past.stdout + past.stderr).toMatch(/error|Input\/output|No space|Invalid/i);
    expect(await qemuIo(uri, `read -P 0xcc ${size - 512} 512`)).not.toContain("Pattern verification failed");
  });

  test("write -z and discard read as zeros and nbdinfo --map reports unmapped ranges as holes", async () => {
    await ex.createVolume("zeros", "5M");
    const uri = ex.unixUri("zeros");
    await qemuIo(uri, "write -P 0x55 0 5M", "write -z -u 1M 1M", "discard 2M 1M", "write -z 4M 1M");
    const out = await qemuIo(uri, "read -P 0 1M 2M", "read -P 0x55 0 1M", "read -P 0x55 3M 1M", "read -P 0 4M 1M");
    expect(out).not.toContain("Pattern verification failed");
    const map = JSON.parse(await mustRun(["nbdinfo", "--map", "--json", uri])) as { offset: number; length: number; type: number }[];
    const zeroed = map.filter((e) => e.type === 3).reduce((sum, e) => sum + e.length, 0);
    expect(zeroed).toBe(2 * MiB);
    expect(map.find((e) => e.offset === 0)?.type).toBe(0);
  });

  test("nbdinfo --list lists every volume with its description", async () => {
    await ex.createVolume("listed", "1M");
    const list = JSON.parse(await mustRun(["nbdinfo", "--list", "--json", `nbd+unix:///?socket=${ex.socket}`])) as {
      exports: { "export-name": string; description?: string; "export-size": number }[];
    };
    const listed = list.exports.find((e) => e["export-name"] === "listed");
    expect(listed?.["export-size"]).toBe(MiB);
    expect(listed?.description).toBe("raw volume");
  });

  test("qemu-img convert round-trips through the export and compare agrees", async () => {
    const source = join(scratch.path, "source.raw");
    writeFileSync(source, Buffer.concat([randomBytes(3 * MiB), Buffer.alloc(2 * MiB), randomBytes(3 * MiB)]));
    await ex.createVolume("convert", 8 * MiB);
    await mustRun(["qemu-img", "convert", "-n", "-f", "raw", "-O", "raw", source, ex.tcpUri("convert")]);
    expect(await mustRun(["qemu-img", "compare", "-f", "raw", "-F", "raw", source, ex.tcpUri("convert")])).toContain("identical");
    const back = join(scratch.path, "back.qcow2");
    await mustRun(["qemu-img", "convert", "-f", "raw", "-O", "qcow2", ex.unixUri("convert"), back]);
    expect(await mustRun(["qemu-img", "compare", "-f", "raw", "-F", "qcow2", source, back])).toContain("identical");
  });

  test("nbdcopy copies in and out with several connections", async () => {
    const source = join(scratch.path, "copy.raw");
    const data = randomBytes(16 * MiB);
    writeFileSync(source, data);
    await ex.createVolume("copy", 16 * MiB);
    await mustRun(["nbdcopy", "--connections=4", "--requests=8", source, ex.unixUri("copy")]);
    const out = join(scratch.path, "copy-out.raw");
    await mustRun(["nbdcopy", "--connections=4", ex.tcpUri("copy"), out]);
    expect(readFileSync(out).equals(data)).toBe(true);
  });

  test("fio's nbd engine writes and verifies crc32c with several jobs", async () => {
    await ex.createVolume("fio", 16 * MiB);
    const result = await run([
      "fio", "--name=verify", "--ioengine=nbd", `--uri=${ex.unixUri("fio")}`, "--rw=randwrite", "--bs=4k", "--iodepth=8",
      "--numjobs=4", "--size=4M", "--offset_increment=4M", "--verify=crc32c", "--do_verify=1", "--verify_fatal=1", "--verify_state_save=0", "--group_reporting",
    ]);
    expect(result.stderr).not.toContain("verify:");
    expect(result.code).toBe(0);
    expect(result.stdout).toContain("verify");
  });
});
