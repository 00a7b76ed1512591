import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { statSync } from "node:fs";
import { NbdClient } from "../../src/coronafs/nbd/client.ts";
import { startExport, type TestExport } from "../helpers/nbd-export.ts";
import { runPhoton } from "../helpers/photon.ts";

let ex: TestExport;
beforeAll(async () => {
  ex = await startExport();
});
afterAll(async () => {
  await ex[Symbol.asyncDispose]();
});

const cli = (...args: string[]) => runPhoton([...args, "--server", ex.admin], { env: { PHOTON_TOKEN: ex.token } });

describe("volume API and CLI", () => {
  test("create, list, show, uri, resize and delete a raw volume", async () => {
    const created = await cli("volume", "create", "cli-vol", "--size", "10M", "--json");
    expect(created.code).toBe(0);
    expect(JSON.parse(created.stdout)).toMatchObject({ name: "cli-vol", format: "raw", sizeBytes: 10 * 1024 * 1024, backing: null });
    // Raw volumes are sparse files of exactly the volume size.
    const file = await ex.volumeFile("cli-vol");
    expect(statSync(file).size).toBe(10 * 1024 * 1024);
    expect(statSync(file).blocks).toBe(0);

    const table = await cli("volume", "list");
    expect(table.stdout).toMatch(/cli-vol\s+raw\s+10\.0 MiB/);
    const uris = (await cli("volume", "uri", "cli-vol")).stdout.trim().split("\n");
    expect(uris).toEqual([ex.tcpUri("cli-vol"), ex.unixUri("cli-vol")]);

    const resized = JSON.parse((await cli("volume", "resize", "cli-vol", "20M", "--json")).stdout) as { sizeBytes: number };
    expect(resized.sizeBytes).toBe(20 * 1024 * 1024);
    const client = await NbdClient.connect({ uri: ex.unixUri("cli-vol") });
    expect(client.size).toBe(20 * 1024 * 1024);
    await client.close();

    expect((await cli("volume", "delete", "cli-vol")).code).toBe(0);
    const gone = await cli("volume", "show", "cli-vol");
    expect(gone.code).toBe(1);
    expect(gone.stderr).toContain("does not exist");
    expect(() => statSync(file)).toThrow();
  });

  test("bad requests are refused with the field named and create nothing", async () => {
    const cases: [unknown, string][] = [
      [{ name: "../etc", size: "1M" }, "name"],
      [{ name: "ok-name", size: "ten gigs" }, "size"],
      [{ name: "ok-name", size: 0 }, "size"],
      [{ name: "ok-name", size: "1P" }, "size"],
      [{ name: "ok-name", size: "1M", format: "vmdk" }, "format"],
      [{ name: "ok-name", size: "1M", backing: "missing" }, "backing"],
      [{ name: "ok-name", size: "1M", extra: true }, "(body)"],
    ];
    for (const [body, field] of cases) {
      const res = await ex.api("POST", "/v1/volumes", body);
      expect(res.status).toBe(400);
      expect(res.headers.get("content-type")).toBe("application/problem+json");
      expect(((await res.json()) as { field: string }).field).toBe(field);
    }
    const list = (await (await ex.api("GET", "/v1/volumes")).json()) as { volumes: { name: string }[] };
    expect(list.volumes.map((v) => v.name)).not.toContain("ok-name");
  });

  test("duplicate names conflict and shrinking is refused", async () => {
    await ex.createVolume("dup", "1M");
    expect((await ex.api("POST", "/v1/volumes", { name: "dup", size: "1M" })).status).toBe(409);
    const shrink = await ex.api("POST", "/v1/volumes/dup/resize", { size: "512K" });
    expect(shrink.status).toBe(400);
    expect(((await ex.api("GET", "/v1/volumes/dup").then((r) => r.json())) as { sizeBytes: number }).sizeBytes).toBe(1024 * 1024);
  });

  test("a volume with open connections is only deleted with force, which disconnects them", async () => {
    await ex.createVolume("busy", "1M");
    const client = await NbdClient.connect({ uri: ex.tcpUri("busy") });
    const shown = (await (await ex.api("GET", "/v1/volumes/busy")).json()) as { connections: number };
    expect(shown.connections).toBe(1);
    const refused = await ex.api("DELETE", "/v1/volumes/busy");
    expect(refused.status).toBe(409);
    expect(await client.read(0, 512)).toEqual(Buffer.alloc(512));
    expect((await ex.api("DELETE", "/v1/volumes/busy?force=true")).status).toBe(204);
    await expect(client.read(0, 512)).rejects.toThrow();
    expect((await ex.api("GET", "/v1/volumes/busy")).status).toBe(404);
  });

  test("a base with overlays cannot be deleted and is exported read-only", async () => {
    await ex.createVolume("base1", "1M");
    const overlay = await ex.createVolume("over1", "1M", { backing: "base1" });
    expect(overlay).toMatchObject({ format: "qcow2", backing: "base1" });
    expect((await ex.api("DELETE", "/v1/volumes/base1")).status).toBe(409);
    const client = await NbdClient.connect({ uri: ex.unixUri("base1") });
    expect(client.readOnly).toBe(true);
    await expect(client.write(0, Buffer.alloc(512, 1))).rejects.toThrow("errno 1");
    await client.close();
  });

  test("import streams an image into a new volume and refuses non-images", async () => {
    const image = Buffer.alloc(2 * 1024 * 1024, 0x3c);
    const res = await fetch(`${ex.admin}/v1/volumes/imported/image`, { method: "PUT", headers: { authorization: `Bearer ${ex.token}` }, body: image });
    expect(res.status).toBe(201);
    expect(await res.json()).toMatchObject({ name: "imported", format: "raw", sizeBytes: image.length });
    const client = await NbdClient.connect({ uri: ex.unixUri("imported") });
    expect((await client.read(0, image.length)).equals(image)).toBe(true);
    await client.close();

    const bad = await fetch(`${ex.admin}/v1/volumes/notqcow/image?format=qcow2`, { method: "PUT", headers: { authorization: `Bearer ${ex.token}` }, body: image });
    expect(bad.status).toBe(400);
    expect(((await bad.json()) as { detail: string }).detail).toContain("bad magic");
    expect((await ex.api("GET", "/v1/volumes/notqcow")).status).toBe(404);
  });

  test("the volume API needs the cluster token", async () => {
    const res = await fetch(`${ex.admin}/v1/volumes`);
    expect(res.status).toBe(401);
  });
});

describe("shutdown", () => {
  test("SIGTERM closes client connections, flushes qcow2 metadata and exits 0", async () => {
    await using own = await startExport();
    await own.createVolume("shut", "4M", { format: "qcow2" });
    const client = await NbdClient.connect({ uri: own.unixUri("shut") });
    await client.write(0, Buffer.alloc(65536, 0x42));
    expect(await own.proc.stop()).toBe(0);
    await expect(client.read(0, 512)).rejects.toThrow();
    expect(own.proc.lines.at(-1)?.msg).toBe("stopped");
    const check = Bun.spawnSync(["qemu-img", "check", await own.volumeFile("shut")]);
    expect(check.exitCode).toBe(0);
    const read = Bun.spawnSync(["qemu-io", "-f", "qcow2", "-c", "read -P 0x42 0 64k", await own.volumeFile("shut")]);
    expect(read.stdout.toString()).not.toContain("verification failed");
    expect(read.exitCode).toBe(0);
  });
});
