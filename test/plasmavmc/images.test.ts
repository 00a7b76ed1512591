import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { ListObjectsV2Command, PutObjectCommand } from "@aws-sdk/client-s3";
import { createHash } from "node:crypto";
import { readFileSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { mustRun } from "../helpers/nbd-export.ts";
import { tempDir } from "../helpers/photon.ts";
import { startPlasmaCluster, type PlasmaCluster } from "../helpers/plasmavmc.ts";

const MiB = 1024 * 1024;
let dir: ReturnType<typeof tempDir>;
let cluster: PlasmaCluster;
let rawImage: string;
let qcowImage: string;

type Image = { name: string; format: string; virtualSize: number; artifactSize: number; sha256: string; baseVolume: string | null };
type Volume = { name: string; format: string; sizeBytes: number; backing: string | null; image: string | null; uris: { tcp: string } };

const sha256 = (path: string) => createHash("sha256").update(readFileSync(path)).digest("hex");

beforeAll(async () => {
  dir = tempDir("photon-images-");
  cluster = await startPlasmaCluster(dir.path);
  // A raw image with data at both ends and a hole between, and a qcow2 image with a few written clusters.
  rawImage = join(dir.path, "disk.raw");
  writeFileSync(rawImage, "");
  await mustRun(["qemu-img", "create", "-f", "raw", rawImage, "32M"]);
  await mustRun(["qemu-io", "-f", "raw", "-c", "write -P 0x5a 0 1M", "-c", "write -P 0xa5 31M 1M", rawImage]);
  qcowImage = join(dir.path, "disk.qcow2");
  await mustRun(["qemu-img", "create", "-f", "qcow2", qcowImage, "48M"]);
  await mustRun(["qemu-io", "-f", "qcow2", "-c", "write -P 0x11 4M 2M", "-c", "write -P 0x22 40M 64k", qcowImage]);
});

afterAll(async () => {
  await cluster.stop();
  dir[Symbol.dispose]();
});

describe("images", () => {
  test("an image created from a local file records its format, virtual size and the file's sha256", async () => {
    const raw = await cluster.cli("image", "create", "raw1", "--from", rawImage, "--json");
    expect(raw.stderr).not.toContain("error");
    expect(raw.code).toBe(0);
    const image = JSON.parse(raw.stdout) as Image;
    expect(image).toMatchObject({ name: "raw1", format: "raw", virtualSize: 32 * MiB, artifactSize: 32 * MiB, sha256: sha256(rawImage) });

    const qcow = JSON.parse((await cluster.cli("image", "create", "qcow1", "--from", qcowImage, "--json")).stdout) as Image;
    expect(qcow).toMatchObject({ format: "qcow2", virtualSize: 48 * MiB, artifactSize: statSync(qcowImage).size, sha256: sha256(qcowImage) });

    const listed = JSON.parse((await cluster.cli("image", "list", "--json")).stdout) as Image[];
    expect(listed.map((i) => i.name)).toEqual(["qcow1", "raw1"]);
  });

  test("an image comes from an s3:// object or an http URL as well", async () => {
    const s3 = cluster.gateway.client();
    await s3.send(new PutObjectCommand({ Bucket: "photon-images", Key: "uploads/disk.qcow2", Body: readFileSync(qcowImage) }));
    const fromS3 = JSON.parse((await cluster.cli("image", "create", "from-s3", "--from", "s3://photon-images/uploads/disk.qcow2", "--json")).stdout) as Image;
    expect(fromS3.sha256).toBe(sha256(qcowImage));

    const server = Bun.serve({ hostname: "127.0.0.1", port: 0, fetch: () => new Response(Bun.file(rawImage)) });
    try {
      const fromUrl = JSON.parse((await cluster.cli("image", "create", "from-url", "--from", `http://127.0.0.1:${server.port}/disk.raw`, "--json")).stdout) as Image;
      expect(fromUrl).toMatchObject({ format: "raw", virtualSize: 32 * MiB, sha256: sha256(rawImage) });
    } finally {
      await server.stop(true);
    }
    s3.destroy();
  });

  test("a hostile qcow2 image is refused with its reason and leaves no image or artifact", async () => {
    const hostile = join(dir.path, "hostile.qcow2");
    const bytes = readFileSync(qcowImage);
    bytes.writeUInt32BE(40, 20); // cluster_bits far out of range
    writeFileSync(hostile, bytes);
    const result = await cluster.cli("image", "create", "evil", "--from", hostile);
    expect(result.code).not.toBe(0);
    expect(result.stderr).toContain("cluster_bits");
    expect((await cluster.cli("image", "show", "evil")).code).not.toBe(0);
    const s3 = cluster.gateway.client();
    const objects = await s3.send(new ListObjectsV2Command({ Bucket: "photon-images", Prefix: "images/evil/" }));
    expect(objects.KeyCount).toBe(0);
    s3.destroy();
  });

  test("bad input gets a clear error: duplicate names, unknown sources, bad names", async () => {
    const duplicate = await cluster.cli("image", "create", "raw1", "--from", rawImage);
    expect(duplicate.code).not.toBe(0);
    expect(duplicate.stderr).toContain('image "raw1" already exists');
    expect((await cluster.cli("image", "create", "x", "--from", join(dir.path, "missing.img"))).stderr).toContain("is not a file");
    expect((await cluster.cli("image", "create", "x", "--from", "s3://photon-images/nope")).stderr).toContain("cannot read s3://photon-images/nope");
    expect((await cluster.cli("image", "create", "bad:name", "--from", rawImage)).stderr).toContain("not a valid name");
  });
});

describe("image-backed volumes", () => {
  test("the first clone builds a raw base; later clones are qcow2 overlays on it, and read as the image", async () => {
    const first = JSON.parse((await cluster.cli("volume", "create", "clone1", "--image", "qcow1", "--json")).stdout) as Volume;
    expect(first).toMatchObject({ format: "qcow2", sizeBytes: 48 * MiB, image: "qcow1" });
    expect(first.backing).toMatch(/^base-[0-9a-f]{16}$/);
    const base = JSON.parse((await cluster.cli("volume", "show", first.backing!, "--json")).stdout) as Volume;
    expect(base.format).toBe("raw");

    const second = JSON.parse((await cluster.cli("volume", "create", "clone2", "--image", "qcow1", "--size", "64M", "--json")).stdout) as Volume;
    expect(second).toMatchObject({ backing: first.backing, sizeBytes: 64 * MiB });
    // On disk, the second clone is a small overlay file, not a copy of the image.
    expect(statSync(await cluster.central.volumeFile("clone2")).size).toBeLessThan(MiB);
    await mustRun(["qemu-img", "compare", "-f", "qcow2", "-F", "raw", qcowImage, first.uris.tcp]);
    const rawClone = JSON.parse((await cluster.cli("volume", "create", "clone3", "--image", "raw1", "--json")).stdout) as Volume;
    await mustRun(["qemu-img", "compare", "-f", "raw", "-F", "raw", rawImage, rawClone.uris.tcp]);
  });

  test("concurrent first clones of one image build its base once", async () => {
    const fresh = join(dir.path, "fresh.qcow2");
    await mustRun(["qemu-img", "create", "-f", "qcow2", fresh, "16M"]);
    await mustRun(["qemu-io", "-f", "qcow2", "-c", "write -P 0x33 1M 1M", fresh]);
    expect((await cluster.cli("image", "create", "fresh", "--from", fresh)).code).toBe(0);
    const results = await Promise.all([1, 2, 3].map((i) => cluster.cli("volume", "create", `par${i}`, "--image", "fresh", "--json")));
    for (const r of results) expect(r.code).toBe(0);
    const backings = new Set(results.map((r) => (JSON.parse(r.stdout) as Volume).backing));
    expect(backings.size).toBe(1);
    const builds = cluster.controller.proc.lines.filter((l) => l.msg === "image base built" && l.image === "fresh");
    expect(builds.length).toBe(1);
    const volumes = JSON.parse((await cluster.cli("volume", "list", "--json")).stdout) as Volume[];
    expect(volumes.filter((v) => v.name.startsWith("base-")).length).toBe(new Set(volumes.filter((v) => v.backing).map((v) => v.backing)).size);
  });

  test("an image in use cannot be deleted; once its volumes are gone it goes with its base", async () => {
    const refused = await cluster.cli("image", "delete", "raw1");
    expect(refused.code).not.toBe(0);
    expect(refused.stderr).toContain("clone3");
    const base = (JSON.parse((await cluster.cli("image", "show", "raw1", "--json")).stdout) as Image).baseVolume!;
    expect((await cluster.cli("volume", "delete", "clone3")).code).toBe(0);
    expect((await cluster.cli("image", "delete", "raw1")).code).toBe(0);
    expect((await cluster.cli("volume", "show", base)).code).not.toBe(0);
  });

  test("bad clone requests change nothing", async () => {
    const before = (await cluster.cli("volume", "list", "--json")).stdout;
    expect((await cluster.cli("volume", "create", "v", "--image", "nope")).stderr).toContain('image "nope" does not exist');
    expect((await cluster.cli("volume", "create", "v", "--image", "qcow1", "--size", "1M")).stderr).toContain("smaller than the image");
    expect((await cluster.cli("volume", "create", "clone1", "--image", "qcow1")).stderr).toContain("already exists");
    expect((await cluster.cli("volume", "create", "v", "--image", "qcow1", "--size", "lots")).stderr).toContain("size");
    expect((await cluster.cli("volume", "list", "--json")).stdout).toBe(before);
  });
});
