import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { closeSync, ftruncateSync, openSync, readdirSync, writeSync } from "node:fs";
import { join } from "node:path";
import { mustRun, startExport, type TestExport } from "../helpers/nbd-export.ts";
import { runPhoton, tempDir, waitFor } from "../helpers/photon.ts";

/**
 * `photon volume import` and `volume create --from` as an operator runs
 * them: images larger than Bun's default body limit, images in formats a
 * volume cannot hold (made by the real qemu-img), and the progress lines
 * a non-TTY stderr gets.
 */

const MiB = 1024 * 1024;
let dir: ReturnType<typeof tempDir>;
let ex: TestExport;
const cli = (...args: string[]) => runPhoton([...args, "--server", ex.admin], { env: { PHOTON_TOKEN: ex.token } });
const volumeDirEntries = () => readdirSync(join(ex.dataDir, "volumes")).sort();

beforeAll(async () => {
  dir = tempDir("photon-volume-import-");
  ex = await startExport();
});

afterAll(async () => {
  await ex?.[Symbol.asyncDispose]();
  dir[Symbol.dispose]();
});

describe("volume import", () => {
  test("a 200 MiB sparse raw image imports through the CLI, with a progress line, and reads back", async () => {
    const path = join(dir.path, "big.raw");
    const fd = openSync(path, "w");
    ftruncateSync(fd, 200 * MiB);
    writeSync(fd, Buffer.alloc(MiB, 0x5a), 0, MiB, 150 * MiB); // data past the 128 MiB mark
    closeSync(fd);

    const out = await cli("volume", "import", "big", path);
    expect(out.stderr).not.toContain("error");
    expect(out.code).toBe(0);
    expect(out.stdout).toMatch(/^size:\s+200\.0 MiB \(209715200 bytes\)$/m);
    // Not a TTY: plain lines, the last saying it is done.
    expect(out.stderr).toMatch(/uploading big\.raw .*200\.0 MiB \/ 200\.0 MiB.* done\n$/);
    const read = await mustRun(["qemu-io", "-f", "raw", "-c", "read -P 0x5a 150M 1M", "-c", "read -P 0 149M 1M", ex.tcpUri("big")]);
    expect(read).not.toContain("Pattern verification failed");
  });

  test("a client that disconnects mid-upload leaves no volume and no temporary file", async () => {
    const before = volumeDirEntries();
    const abort = new AbortController();
    const body = new ReadableStream<Uint8Array>({
      async pull(controller) {
        controller.enqueue(new Uint8Array(MiB).fill(1));
        await Bun.sleep(5);
      },
    });
    const upload = fetch(`${ex.admin}/v1/volumes/gone/image`, {
      method: "PUT",
      headers: { authorization: `Bearer ${ex.token}`, "content-type": "application/octet-stream" },
      body,
      duplex: "half",
      signal: abort.signal,
    } as RequestInit);
    await waitFor(() => volumeDirEntries().some((f) => f.startsWith(".import-")), "the upload to reach a temporary file");
    abort.abort();
    await expect(upload).rejects.toThrow();
    await waitFor(() => volumeDirEntries().join() === before.join(), "the temporary file to be removed");
    expect((await ex.api("GET", "/v1/volumes/gone")).status).toBe(404);
  });

  for (const [format, name, extra] of [
    ["vmdk", "VMDK", []],
    ["vdi", "VDI", []],
    ["vhdx", "VHDX", []],
    ["vpc", "VHD", ["-o", "subformat=fixed"]],
    ["qed", "QED", []],
  ] as const) {
    test(`a ${name} image is refused with its format named and the qemu-img command that converts it`, async () => {
      const path = join(dir.path, `disk.${format}`);
      await mustRun(["qemu-img", "create", "-f", format, ...extra, path, "64M"]);
      const before = volumeDirEntries();

      const out = await cli("volume", "import", `from-${format}`, path);
      expect(out.code).toBe(1);
      expect(out.stderr).toContain(`is a ${name} image`);
      expect(out.stderr).toContain(`qemu-img convert -f ${format} -O qcow2 ${path} ${join(dir.path, "disk.qcow2")}`);
      expect(out.stderr.trim().split("\n")).toHaveLength(1);

      // The server refuses it too (curl users), and keeps nothing.
      const put = await fetch(`${ex.admin}/v1/volumes/from-${format}/image`, {
        method: "PUT",
        headers: { authorization: `Bearer ${ex.token}` },
        body: Bun.file(path),
      });
      expect(put.status).toBe(400);
      expect(((await put.json()) as { detail: string }).detail).toContain(`qemu-img convert -f ${format} -O qcow2`);
      expect(volumeDirEntries()).toEqual(before);
    });
  }

  test("--format raw takes a file with a foreign magic as raw, as its owner says", async () => {
    const path = join(dir.path, "looks-like.vdi");
    await mustRun(["qemu-img", "create", "-f", "vdi", path, "1M"]);
    const out = await cli("volume", "import", "insisted", path, "--format", "raw", "--json");
    expect(out.code).toBe(0);
    expect(JSON.parse(out.stdout)).toMatchObject({ format: "raw" });
  });
});

describe("volume create --from", () => {
  test("materializing prints progress lines (none with --json) and the server's progress endpoint is gone when done", async () => {
    await using target = await startExport();
    await ex.createVolume("src", 64 * MiB);
    await mustRun(["qemu-io", "-f", "raw", "-c", "write -P 0x33 8M 4M", ex.tcpUri("src")]);

    const materialize = (name: string, ...extra: string[]) =>
      runPhoton(["volume", "create", name, "--from", ex.tcpUri("src"), "--server", target.admin, ...extra], { env: { PHOTON_TOKEN: target.token } });
    const out = await materialize("copy");
    expect(out.code).toBe(0);
    expect(out.stdout).toMatch(/^copied:\s+4\.0 MiB$/m);
    expect(out.stderr).toMatch(/materializing copy .*64\.0 MiB \/ 64\.0 MiB.* done\n$/);
    // --json is for scripts: the volume on stdout and nothing on stderr.
    const json = await materialize("copy2", "--json");
    expect(JSON.parse(json.stdout)).toMatchObject({ name: "copy2", sizeBytes: 64 * MiB });
    expect(json.stderr).toBe("");
    expect((await target.api("GET", "/v1/volumes/copy/progress")).status).toBe(404);
    const line = await target.proc.waitForLog((l) => l.msg === "volume materialized", "the materialize log line");
    expect(line).toMatchObject({ volume: "copy", source: ex.tcpUri("src") });
  });
});
