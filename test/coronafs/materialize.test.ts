import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { statSync } from "node:fs";
import { join } from "node:path";
import { startAgent, startController, type TestController } from "../helpers/cluster.ts";
import { mustRun, run, startExport, type TestExport } from "../helpers/nbd-export.ts";
import { authed, tempDir, type PhotonProcess } from "../helpers/photon.ts";

/**
 * Node-local CoronaFS: an agent materializes a volume of the controller
 * export (node01's nbd-export) into its own store — reading only what is not
 * zeros — and serves it on its unix socket. Checked with qemu-io and qemu-img.
 */

const MiB = 1024 * 1024;
const qemuIo = (uri: string, ...commands: string[]) => mustRun(["qemu-io", "-f", "raw", ...commands.flatMap((c) => ["-c", c]), uri]);

let dir: ReturnType<typeof tempDir>;
let controller: TestController;
let ex: TestExport;
let agent: PhotonProcess;
let agentUrl: string;

/** POST /v1/volumes on the agent. */
const materialize = (body: unknown) => fetch(`${agentUrl}/v1/volumes`, authed(controller.token, { method: "POST", body: JSON.stringify(body), headers: { "content-type": "application/json" } }));

beforeAll(async () => {
  dir = tempDir("photon-materialize-");
  controller = await startController(join(dir.path, "controller"));
  ex = await startExport();
  agent = await startAgent(controller, join(dir.path, "worker"), "worker");
  agentUrl = await agent.url();
});

afterAll(async () => {
  await agent[Symbol.asyncDispose]();
  await ex[Symbol.asyncDispose]();
  await controller.proc[Symbol.asyncDispose]();
  dir[Symbol.dispose]();
});

describe("materializing a volume onto a worker", () => {
  test("a raw volume arrives identical and sparse, and is served on the worker's unix socket", async () => {
    await ex.createVolume("golden", 64 * MiB);
    await qemuIo(ex.tcpUri("golden"), "write -P 0xa1 0 1M", "write -P 0xb2 32M 4k", `write -P 0xc3 ${64 * MiB - 512} 512`);
    const res = await materialize({ name: "golden-local", source: ex.tcpUri("golden") });
    expect(res.status).toBe(201);
    const volume = (await res.json()) as { sizeBytes: number; copiedBytes: number; uris: { unix?: string; tcp?: string } };
    expect(volume.sizeBytes).toBe(64 * MiB);
    expect(volume.uris.tcp).toBeUndefined(); // node-local exports are unix sockets only
    expect(volume.uris.unix).toContain(join(dir.path, "worker"));
    // Only the allocated ranges were read (1 MiB + 4 KiB + the last 512 bytes, at block granularity).
    expect(volume.copiedBytes).toBeLessThan(4 * MiB);
    expect((await run(["qemu-img", "compare", "-f", "raw", "-F", "raw", ex.tcpUri("golden"), volume.uris.unix!])).code).toBe(0);
    const files = await mustRun(["find", join(dir.path, "worker", "local-volumes", "volumes"), "-name", "*.raw"]);
    const file = files.trim().split("\n")[0]!;
    expect(statSync(file).size).toBe(64 * MiB);
    expect(statSync(file).blocks * 512).toBeLessThan(4 * MiB);
    // The copy is the worker's own: writing to it leaves the source alone.
    await qemuIo(volume.uris.unix!, "write -P 0xdd 0 4k");
    expect(await qemuIo(ex.tcpUri("golden"), "read -P 0xa1 0 4k")).not.toContain("Pattern verification failed");
  });

  test("a qcow2 overlay arrives flattened: its base's data and its own", async () => {
    await ex.createVolume("base", 16 * MiB);
    await qemuIo(ex.tcpUri("base"), "write -P 0x11 0 8M");
    await ex.createVolume("overlay", 16 * MiB, { format: "qcow2", backing: "base" });
    await qemuIo(ex.tcpUri("overlay"), "write -P 0x22 4M 1M");
    const res = await materialize({ name: "overlay-local", source: ex.unixUri("overlay") });
    expect(res.status).toBe(201);
    const { uris } = (await res.json()) as { uris: { unix: string } };
    expect((await run(["qemu-img", "compare", "-f", "raw", "-F", "raw", ex.tcpUri("overlay"), uris.unix])).code).toBe(0);
    const reads = await qemuIo(uris.unix, "read -P 0x11 0 4M", "read -P 0x22 4M 1M", "read -P 0x11 5M 3M", "read -P 0 8M 8M");
    expect(reads).not.toContain("Pattern verification failed");
    expect(reads.match(/read \d+\/\d+ bytes/g)).toHaveLength(4);
  });

  test("bad requests are refused with the field named and create nothing", async () => {
    const cases: [unknown, number, string][] = [
      [{ name: "x1", source: "nbd://127.0.0.1:1/none" }, 400, "source"],
      [{ name: "x2", source: ex.tcpUri("no-such-volume") }, 400, "source"],
      [{ name: "x3", source: "http://example/volume" }, 400, "source"],
      [{ name: "x4", source: ex.tcpUri("golden"), size: "1G" }, 400, "source"],
      [{ name: "golden-local", source: ex.tcpUri("golden") }, 409, ""],
    ];
    for (const [body, status, field] of cases) {
      const res = await materialize(body);
      expect({ body, status: res.status }).toEqual({ body, status });
      if (field) expect(((await res.json()) as { field?: string }).field).toBe(field);
    }
    const list = (await (await fetch(`${agentUrl}/v1/volumes`, authed(controller.token))).json()) as { volumes: { name: string }[] };
    expect(list.volumes.map((v) => v.name).sort()).toEqual(["golden-local", "overlay-local"]);
  });
});
