import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { closeSync, openSync, readdirSync, statSync, writeSync } from "node:fs";
import { join } from "node:path";
import { NbdClient } from "../../src/coronafs/nbd/client.ts";
import { buildImage } from "../../src/coronafs/qcow2/header.ts";
import { mustRun, run, startExport, type TestExport } from "../helpers/nbd-export.ts";
import { tempDir, waitFor } from "../helpers/photon.ts";

/**
 * Moving a volume's file between stores, as PlasmaVMC does with image-backed
 * disks: GET /v1/volumes/NAME/image exports the file as stored, PUT
 * …/image?format=qcow2&backing=BASE imports an overlay onto a base of the
 * receiving store (rebasing its header), replace=true swaps a volume in one
 * step. Two nbd-exports with their own data dirs stand in for two nodes.
 */

const MiB = 1024 * 1024;
const qemuIo = (uri: string, ...commands: string[]) => mustRun(["qemu-io", "-f", "raw", ...commands.flatMap((c) => ["-c", c]), uri]);
const patternOk = (output: string, reads: number) => {
  expect(output).not.toContain("Pattern verification failed");
  expect(output.match(/read \d+\/\d+ bytes/g)).toHaveLength(reads);
};

let dir: ReturnType<typeof tempDir>;
let source: TestExport;
let target: TestExport;

beforeAll(async () => {
  dir = tempDir("photon-image-transfer-");
  [source, target] = await Promise.all([startExport(), startExport()]);
  // The base on the source, and its copy on the target, materialized over NBD.
  await source.createVolume("base", 16 * MiB);
  await qemuIo(source.tcpUri("base"), "write -P 0x11 0 16M");
  const res = await target.api("POST", "/v1/volumes", { name: "base", source: source.tcpUri("base") });
  expect(res.status).toBe(201);
});

afterAll(async () => {
  await source?.[Symbol.asyncDispose]();
  await target?.[Symbol.asyncDispose]();
  dir[Symbol.dispose]();
});

/** PUT an image body (a file or another response's stream) onto `ex`. */
const putImage = (ex: TestExport, name: string, query: string, body: RequestInit["body"]) =>
  fetch(`${ex.admin}/v1/volumes/${name}/image${query}`, {
    method: "PUT",
    headers: { authorization: `Bearer ${ex.token}`, "content-type": "application/octet-stream" },
    body,
  });
const getImage = (ex: TestExport, name: string) => fetch(`${ex.admin}/v1/volumes/${name}/image`, { headers: { authorization: `Bearer ${ex.token}` } });
const connections = async (ex: TestExport, name: string) => ((await (await ex.api("GET", `/v1/volumes/${name}`)).json()) as { connections: number }).connections;
const volumeFiles = (ex: TestExport) => readdirSync(join(ex.dataDir, "volumes")).sort();

/** A qcow2 overlay of `base` on the source with `pattern` written over 4M..6M, its file exported. */
async function exportOverlay(name: string, pattern: number): Promise<Response> {
  await source.createVolume(name, 32 * MiB, { format: "qcow2", backing: "base" }); // larger than its base
  await qemuIo(source.tcpUri(name), `write -P ${pattern} 4M 2M`, `write -P ${pattern} 20M 1M`);
  // qemu-io has gone; its connection counts until the image is flushed and closed.
  await waitFor(async () => (await connections(source, name)) === 0, `${name} to have no connections`);
  const res = await getImage(source, name);
  expect(res.status).toBe(200);
  return res;
}

describe("exporting and importing volume files", () => {
  test("an overlay's file exported from one store and imported onto the materialized base of another reads the same", async () => {
    const exported = await exportOverlay("disk", 0x22);
    expect(exported.headers.get("content-type")).toBe("application/octet-stream");
    expect(exported.headers.get("x-photon-format")).toBe("qcow2");
    expect(exported.headers.get("x-photon-virtual-size")).toBe(String(32 * MiB));
    expect(exported.headers.get("x-photon-backing")).toBe("base");
    expect(Number(exported.headers.get("content-length"))).toBe(statSync(await source.volumeFile("disk")).size);

    const imported = await putImage(target, "disk", "?format=qcow2&backing=base", exported.body!);
    expect(imported.status).toBe(201);
    expect(await imported.json()).toMatchObject({ name: "disk", format: "qcow2", sizeBytes: 32 * MiB, backing: "base" });
    // The header now names the target's own base file; qemu reads it so.
    const info = JSON.parse(await mustRun(["qemu-img", "info", "--output=json", await target.volumeFile("disk")])) as Record<string, unknown>;
    expect(info["full-backing-filename"]).toBe(await target.volumeFile("base"));
    expect(info["backing-filename-format"]).toBe("raw");
    expect((await run(["qemu-img", "check", await target.volumeFile("disk")])).code).toBe(0);

    const compare = await run(["qemu-img", "compare", "-f", "raw", "-F", "raw", source.tcpUri("disk"), target.tcpUri("disk")]);
    expect(compare).toMatchObject({ code: 0 });
    patternOk(await qemuIo(target.tcpUri("disk"), "read -P 0x11 0 4M", "read -P 0x22 4M 2M", "read -P 0x11 6M 10M", "read -P 0 16M 4M", "read -P 0x22 20M 1M"), 5);
    // A raw volume exports as raw, without a backing header.
    const base = await getImage(target, "base");
    expect(base.headers.get("x-photon-format")).toBe("raw");
    expect(base.headers.has("x-photon-backing")).toBe(false);
    expect((await base.arrayBuffer()).byteLength).toBe(16 * MiB);
  });

  test("a volume with NBD clients is not exported unless it is read-only", async () => {
    const client = await NbdClient.connect({ uri: target.unixUri("disk") });
    const baseClient = await NbdClient.connect({ uri: target.unixUri("base") });
    try {
      const refused = await getImage(target, "disk");
      expect(refused.status).toBe(409);
      expect(refused.headers.get("content-type")).toBe("application/problem+json");
      // The base backs an overlay, so it is exported read-only: nothing can change it mid-copy.
      const base = await getImage(target, "base");
      expect(base.status).toBe(200);
      await base.arrayBuffer();
    } finally {
      await client.close();
      await baseClient.close();
    }
    await waitFor(async () => (await connections(target, "disk")) === 0, "disk to have no connections");
  });

  test("replace=true swaps in the new overlay in one step, and is refused while the volume is connected", async () => {
    const next = Buffer.from(await (await exportOverlay("disk-v2", 0x33)).arrayBuffer());
    const upload = join(dir.path, "disk-v2.qcow2");
    await Bun.write(upload, next);
    expect((await putImage(target, "disk", "?format=qcow2&backing=base", Bun.file(upload))).status).toBe(409);

    const client = await NbdClient.connect({ uri: target.unixUri("disk") });
    const before = volumeFiles(target);
    const busy = await putImage(target, "disk", "?format=qcow2&backing=base&replace=true", Bun.file(upload));
    expect(busy.status).toBe(409);
    expect(((await busy.json()) as { detail: string }).detail).toContain("NBD connections");
    expect(volumeFiles(target)).toEqual(before);
    await client.close();
    await waitFor(async () => (await connections(target, "disk")) === 0, "disk to have no connections");

    const replaced = await putImage(target, "disk", "?format=qcow2&backing=base&replace=true", Bun.file(upload));
    expect(replaced.status).toBe(200);
    expect(await replaced.json()).toMatchObject({ name: "disk", format: "qcow2", backing: "base" });
    patternOk(await qemuIo(target.tcpUri("disk"), "read -P 0x11 0 4M", "read -P 0x33 4M 2M", "read -P 0x33 20M 1M"), 3);
    // One file per volume: the old overlay's file is gone, no temporary file is left.
    expect(volumeFiles(target)).toHaveLength(before.length);
    expect(volumeFiles(target)).not.toContain(before.find((f) => f.endsWith(".qcow2")));
    expect(volumeFiles(target).filter((f) => f.startsWith("."))).toEqual([]);
  });

  test("hostile or mismatched overlays are refused with a clear 4xx and change nothing", async () => {
    const overlay = () => buildImage({ size: 32 * MiB, backingFile: "whatever.raw", backingFormat: "raw" });
    const outside = overlay();
    outside.writeBigUInt64BE(2n ** 40n, 8); // backing name offset far past the end of the file
    const huge = overlay();
    huge.writeUInt32BE(100_000, 16); // a name longer than the spec's 1023 bytes
    const plain = buildImage({ size: 32 * MiB });
    const cases: [string, string, Uint8Array, number, string][] = [
      ["disk", "?format=qcow2&backing=base&replace=true", outside, 400, "outside the header cluster"],
      ["fresh", "?format=qcow2&backing=base", huge, 400, "backing file name length"],
      ["fresh", "?format=qcow2&backing=base", plain, 400, "not an overlay"],
      ["fresh", "?format=qcow2&backing=missing", overlay(), 400, "backing"],
      ["fresh", "?format=raw&backing=base", overlay(), 400, "must be qcow2"],
      ["fresh", "?format=qcow2", overlay(), 400, "backing file"],
      ["base", "?format=qcow2&backing=base&replace=true", overlay(), 400, "own backing volume"],
    ];
    await waitFor(async () => (await connections(target, "disk")) === 0, "disk to have no connections");
    const before = volumeFiles(target);
    const list = async () => ((await (await target.api("GET", "/v1/volumes")).json()) as { volumes: unknown[] }).volumes;
    const volumes = await list();
    for (const [name, query, body, status, detail] of cases) {
      const res = await putImage(target, name, query, body);
      const problem = (await res.json()) as { detail: string };
      expect({ query, status: res.status, detail: problem.detail }).toEqual({ query, status, detail: expect.stringContaining(detail) });
    }
    expect(volumeFiles(target)).toEqual(before);
    expect(await list()).toEqual(volumes);
    patternOk(await qemuIo(target.tcpUri("disk"), "read -P 0x33 4M 2M"), 1);
  });

  test("a raw import stays sparse: 1 GiB of mostly zeros takes little disk and reads back right", async () => {
    const path = join(dir.path, "sparse.raw");
    const fd = openSync(path, "w");
    const data = Buffer.alloc(4 * MiB);
    for (let i = 0; i < data.length; i++) data[i] = (i * 7 + 1) % 251;
    writeSync(fd, data, 0, data.length, 3 * MiB + 123);
    writeSync(fd, data, 0, 2 * MiB, 700 * MiB);
    writeSync(fd, Buffer.from("end"), 0, 3, 1024 * MiB - 3);
    closeSync(fd);
    const res = await putImage(source, "sparse", "?format=raw", Bun.file(path));
    expect(res.status).toBe(201);
    const file = await source.volumeFile("sparse");
    expect(statSync(file).size).toBe(1024 * MiB);
    expect(statSync(file).blocks * 512).toBeLessThan(64 * MiB);
    expect((await run(["qemu-img", "compare", "-f", "raw", "-F", "raw", path, source.tcpUri("sparse")])).code).toBe(0);
    // Materializing it elsewhere reads only what holds data.
    const copied = await target.api("POST", "/v1/volumes", { name: "sparse-copy", source: source.tcpUri("sparse") });
    expect(copied.status).toBe(201);
    expect(((await copied.json()) as { copiedBytes: number }).copiedBytes).toBeLessThan(64 * MiB);
  });
});
