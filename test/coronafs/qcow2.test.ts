import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { randomBytes } from "node:crypto";
import { copyFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { NbdClient } from "../../src/coronafs/nbd/client.ts";
import { mustRun, run, startExport, type TestExport } from "../helpers/nbd-export.ts";
import { tempDir, waitFor } from "../helpers/photon.ts";

const MiB = 1024 * 1024;
let ex: TestExport;
const scratch = tempDir("photon-qcow2-");
beforeAll(async () => {
  ex = await startExport();
});
afterAll(async () => {
  await ex[Symbol.asyncDispose]();
  scratch[Symbol.dispose]();
});

/** Writes that exercise partial clusters (copy-on-write), whole clusters, zeroing and discard. */
const script = [
  "write -P 0x21 0 512",
  "write -P 0x22 65000 1000",
  "write -P 0x23 1M 2M",
  "write -P 0x24 3145000 70000",
  "write -z 4M 256k",
  "write -z -u 5M 128k",
  "discard 6M 64k",
  "write -P 0x25 7340031 1",
];

const qemuIo = (args: string[], commands: string[]) => mustRun(["qemu-io", ...args, ...commands.flatMap((c) => ["-c", c])]);

/** Waits until the export has no connection to `name` (and so has flushed and closed it). */
async function waitClosed(name: string): Promise<void> {
  await waitFor(async () => ((await (await ex.api("GET", `/v1/volumes/${name}`)).json()) as { connections: number }).connections === 0, `${name} closed`);
}

async function check(file: string): Promise<void> {
  const result = await run(["qemu-img", "check", "--output=json", file]);
  const report = JSON.parse(result.stdout) as { "check-errors": number; leaks?: number; corruptions?: number };
  expect({ code: result.code, leaks: report.leaks ?? 0, corruptions: report.corruptions ?? 0, errors: report["check-errors"] }).toEqual({
    code: 0,
    leaks: 0,
    corruptions: 0,
    errors: 0,
  });
}

describe("qcow2 overlays", () => {
  test("an overlay written through Photon passes qemu-img check and equals the same writes done by QEMU", async () => {
    const baseData = randomBytes(8 * MiB);
    await ex.createVolume("q-base", 8 * MiB);
    const base = await NbdClient.connect({ uri: ex.unixUri("q-base") });
    await base.write(0, baseData);
    await base.close();
    await waitClosed("q-base");
    await ex.createVolume("q-over", 8 * MiB, { backing: "q-base" });

    await qemuIo(["-f", "raw", ex.tcpUri("q-over")], script);
    await waitClosed("q-over");
    const overlayFile = await ex.volumeFile("q-over");
    await check(overlayFile);

    // The reference: the same writes applied by qemu-io to a qemu-img overlay of a copy of the base.
    const refBase = join(scratch.path, "ref-base.raw");
    writeFileSync(refBase, baseData);
    const ref = join(scratch.path, "ref.qcow2");
    await mustRun(["qemu-img", "create", "-q", "-f", "qcow2", "-b", refBase, "-F", "raw", ref]);
    await qemuIo(["-f", "qcow2", ref], script);

    expect(await mustRun(["qemu-img", "compare", "-f", "qcow2", "-F", "qcow2", overlayFile, ref])).toContain("identical");
    expect(await mustRun(["qemu-img", "compare", "-f", "raw", "-F", "qcow2", ex.unixUri("q-over"), ref])).toContain("identical");
    await waitClosed("q-over");
  });

  test("a zero cluster with a host offset reads as zeros, not as backing data", async () => {
    await ex.createVolume("z-base", 1 * MiB);
    const base = await NbdClient.connect({ uri: ex.unixUri("z-base") });
    await base.write(0, Buffer.alloc(MiB, 0x11));
    await base.close();
    await waitClosed("z-base");
    await ex.createVolume("z-over", 1 * MiB, { backing: "z-base" });

    const over = await NbdClient.connect({ uri: ex.unixUri("z-over") });
    await over.write(0, Buffer.alloc(65536, 0x99));
    await over.writeZeroes(0, 65536, { noHole: true }); // keeps the allocation: zero flag + host offset
    await over.writeZeroes(65536, 65536); // no allocation: zero flag only
    expect((await over.read(0, 131072)).equals(Buffer.alloc(131072))).toBe(true);
    expect((await over.read(131072, 512)).equals(Buffer.alloc(512, 0x11))).toBe(true);
    await over.close();
    await waitClosed("z-over");

    const file = await ex.volumeFile("z-over");
    const map = JSON.parse(await mustRun(["qemu-img", "map", "--output=json", file])) as { start: number; zero: boolean; data: boolean; offset?: number }[];
    expect(map.find((e) => e.start === 0)).toMatchObject({ zero: true, data: false });
    await check(file);
    // QEMU itself reads those clusters as zeros too.
    expect(await qemuIo(["-f", "qcow2", file], ["read -P 0 0 128k", "read -P 0x11 128k 64k"])).not.toContain("verification failed");
  });

  test("images created and written by qemu-img and qemu-io read back identically through Photon", async () => {
    const raw = join(scratch.path, "src.raw");
    writeFileSync(raw, Buffer.concat([randomBytes(2 * MiB), Buffer.alloc(MiB), Buffer.alloc(MiB, 0x42)]));
    const images: [string, string[]][] = [
      ["v2-4k", ["-o", "compat=0.10,cluster_size=4096"]],
      ["v3-default", []],
      ["v3-512", ["-o", "cluster_size=512"]],
      ["v3-2m", ["-o", "cluster_size=2M"]],
      ["compressed", ["-c"]],
    ];
    for (const [name, options] of images) {
      const file = join(scratch.path, `${name}.qcow2`);
      await mustRun(["qemu-img", "convert", "-f", "raw", "-O", "qcow2", ...options, raw, file]);
      // Zero clusters written by QEMU (v3 only) and data over them.
      if (!name.startsWith("v2")) await qemuIo(["-f", "qcow2", file], ["write -z 2M 64k", "write -z -u 3M 64k", "write -P 0x77 3000000 5000"]);
      const res = await fetch(`${ex.admin}/v1/volumes/${name}/image`, { method: "PUT", headers: { authorization: `Bearer ${ex.token}` }, body: Bun.file(file) });
      expect(res.status).toBe(201);
      expect(await mustRun(["qemu-img", "compare", "-f", "qcow2", "-F", "raw", file, ex.unixUri(name)])).toContain("identical");
    }
  });

  test("writing into imported qcow2 images (v2, compressed) keeps them consistent", async () => {
    for (const [name, options] of [["w-v2", ["-o", "compat=0.10"]], ["w-comp", ["-c"]]] as const) {
      const raw = join(scratch.path, `${name}.raw`);
      // Compressible content, so that `-c` really stores compressed clusters.
      writeFileSync(raw, Buffer.from("photon qcow2 compressed cluster test ".repeat((8 * MiB) / 37 + 1)).subarray(0, 8 * MiB));
      const file = join(scratch.path, `${name}.qcow2`);
      await mustRun(["qemu-img", "convert", "-f", "raw", "-O", "qcow2", ...options, raw, file]);
      const reference = join(scratch.path, `${name}-ref.qcow2`);
      copyFileSync(file, reference);
      const res = await fetch(`${ex.admin}/v1/volumes/${name}/image`, { method: "PUT", headers: { authorization: `Bearer ${ex.token}` }, body: Bun.file(file) });
      expect(res.status).toBe(201);
      await qemuIo(["-f", "raw", ex.unixUri(name)], script);
      await waitClosed(name);
      await qemuIo(["-f", "qcow2", reference], script);
      const stored = await ex.volumeFile(name);
      await check(stored);
      expect(await mustRun(["qemu-img", "compare", "-f", "qcow2", "-F", "qcow2", stored, reference])).toContain("identical");
    }
  });

  test("an overlay that qemu-io wrote directly reads back identically through Photon", async () => {
    await ex.createVolume("d-base", 2 * MiB);
    const base = await NbdClient.connect({ uri: ex.unixUri("d-base") });
    await base.write(0, randomBytes(2 * MiB));
    await base.close();
    await waitClosed("d-base");
    await ex.createVolume("d-over", 2 * MiB, { backing: "d-base" });
    const file = await ex.volumeFile("d-over");
    await qemuIo(["-f", "qcow2", file], ["write -P 0x31 100 200k", "write -z 1M 64k", "write -P 0x32 1M 512", "write -z -u 1536k 64k"]);
    expect(await mustRun(["qemu-img", "compare", "-f", "qcow2", "-F", "raw", file, ex.unixUri("d-over")])).toContain("identical");
  });

  test("a qcow2 volume grows past its L1 table: data kept, new end writable, image consistent", async () => {
    await ex.createVolume("grow", "1M", { format: "qcow2" });
    const before = await NbdClient.connect({ uri: ex.unixUri("grow") });
    await before.write(4096, Buffer.alloc(8192, 0x6a));
    await before.close();
    await waitClosed("grow");
    // 3 GiB needs six L1 entries (512 MiB each with 64 KiB clusters): the table moves.
    const res = await ex.api("POST", "/v1/volumes/grow/resize", { size: "3G" });
    expect(res.status).toBe(200);
    const file = await ex.volumeFile("grow");
    await check(file);
    const info = JSON.parse(await mustRun(["qemu-img", "info", "--output=json", file])) as { "virtual-size": number };
    expect(info["virtual-size"]).toBe(3 * 1024 * MiB);
    const after = await NbdClient.connect({ uri: ex.unixUri("grow") });
    expect(after.size).toBe(3 * 1024 * MiB);
    expect((await after.read(4096, 8192)).equals(Buffer.alloc(8192, 0x6a))).toBe(true);
    await after.write(after.size - 65536, Buffer.alloc(65536, 0x6b));
    await after.close();
    await waitClosed("grow");
    await check(file);
    expect(await qemuIo(["-f", "qcow2", file], ["read -P 0x6b 3145664k 64k", "read -P 0x6a 4k 8k"])).not.toContain("verification failed");
  });
});
