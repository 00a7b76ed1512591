import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { existsSync, readdirSync } from "node:fs";
import { dirname, join } from "node:path";
import { startController, type TestController } from "../helpers/cluster.ts";
import { run } from "../helpers/nbd-export.ts";
import { authed, startPhoton, tempDir, waitFor, type PhotonProcess } from "../helpers/photon.ts";
import { fdPath, readTrace } from "../helpers/strace.ts";

/**
 * An agent's chunk API (`/v1/chunks`), the storage-node side of replication,
 * driven over HTTP like the gateway does. The agent runs under strace: a copy
 * is acknowledged (201) only after it is fsynced, renamed into place and its
 * directory fsynced.
 */

let dir: ReturnType<typeof tempDir>;
let controller: TestController;
let agent: PhotonProcess;
let url: string;
let trace: string;

const crcOf = (data: Uint8Array) => (Bun.hash.crc32(data) >>> 0).toString(16).padStart(8, "0");
const chunkUrl = (id: string) => `${url}/v1/chunks/${id}`;
const put = (id: string, body: Uint8Array, crc = crcOf(body)) => fetch(chunkUrl(id), authed(controller.token, { method: "PUT", body, headers: { "x-photon-crc32": crc } }));
const chunkFiles = () => readdirSync(join(dir.path, "agent", "chunks"), { recursive: true, encoding: "utf8" }).filter((f) => f.includes("/"));

beforeAll(async () => {
  dir = tempDir("photon-storage-node-");
  controller = await startController(join(dir.path, "controller"));
  trace = join(dir.path, "trace.txt");
  const traced = "trace=fsync,fdatasync,rename,renameat,renameat2,sendto,sendmsg,write,writev";
  agent = startPhoton(["agent", "--data-dir", join(dir.path, "agent"), "--listen", "127.0.0.1:0", "--controller", controller.url, "--name", "store"], {
    env: { PHOTON_TOKEN: controller.token },
    binary: "strace",
    prefix: ["-f", "-qq", "-y", "-s", "16", "-e", traced, "-o", trace],
  });
  url = await agent.url();
});

afterAll(async () => {
  await run(["pkill", "-TERM", "-P", String(agent.proc.pid)]);
  await agent.exited;
  await controller.proc[Symbol.asyncDispose]();
  dir[Symbol.dispose]();
});

describe("a storage node's chunk API", () => {
  test("a copy is stored, read back with its CRC32, listed by HEAD and deleted", async () => {
    const data = Buffer.from("a chunk copy ".repeat(5000));
    const created = await put("aaaa000001", data);
    expect(created.status).toBe(201);
    expect(await created.json()).toEqual({ id: "aaaa000001", size: data.length, crc32: Bun.hash.crc32(data) >>> 0 });
    const got = await fetch(chunkUrl("aaaa000001"), authed(controller.token));
    expect(got.headers.get("x-photon-crc32")).toBe(crcOf(data));
    expect(Buffer.from(await got.arrayBuffer()).equals(data)).toBe(true);
    const head = await fetch(chunkUrl("aaaa000001"), authed(controller.token, { method: "HEAD" }));
    expect([head.status, head.headers.get("content-length"), head.headers.get("x-photon-crc32")]).toEqual([200, String(data.length), crcOf(data)]);
    expect((await fetch(chunkUrl("aaaa000001"), authed(controller.token, { method: "DELETE" }))).status).toBe(204);
    expect((await fetch(chunkUrl("aaaa000001"), authed(controller.token))).status).toBe(404);
    expect((await fetch(chunkUrl("aaaa000001"), authed(controller.token, { method: "DELETE" }))).status).toBe(404);
  });

  test("bad input is refused and stores nothing: a CRC32 mismatch, a bad id, an existing id, no token", async () => {
    const before = chunkFiles();
    const mismatch = await put("bbbb000001", Buffer.from("bytes"), "00000000");
    expect(mismatch.status).toBe(400);
    expect(((await mismatch.json()) as { detail: string }).detail).toContain("CRC32");
    expect((await put("BAD..ID", Buffer.from("x"))).status).toBe(400);
    expect((await put("bbbb000002", Buffer.from("x"), "not-hex")).status).toBe(400);
    expect(chunkFiles()).toEqual(before);
    expect((await put("bbbb000003", Buffer.from("first"))).status).toBe(201);
    expect((await put("bbbb000003", Buffer.from("second"))).status).toBe(409);
    expect(Buffer.from(await (await fetch(chunkUrl("bbbb000003"), authed(controller.token))).arrayBuffer()).toString()).toBe("first");
    expect((await fetch(chunkUrl("bbbb000004"), { method: "PUT", body: "x" })).status).toBe(401);
    expect(existsSync(join(dir.path, "agent", "chunks", "bb", "bbbb000004"))).toBe(false);
  });

  test("a 201 follows the fsync of the copy, its rename and the fsync of its directory", async () => {
    expect((await put("cccc000001", Buffer.alloc(200_000, 3))).status).toBe(201);
    // The client can read the 201 before strace has written the call that sent it (its entry may
    // still lack its result, or another thread's call may split it): wait until the trace shows it.
    const { rename, ack, fileSync, dirSync } = await waitFor(() => {
      const calls = readTrace(trace);
      const rename = calls.find((c) => c.name.startsWith("rename") && /cccc000001\.[0-9a-f]+\.tmp/.test(c.args) && c.end < Infinity);
      if (!rename) return undefined;
      const ack = calls.find((c) => ["sendto", "sendmsg", "write", "writev"].includes(c.name) && c.args.includes('"HTTP/1.1 201') && c.start > rename.end);
      const target = [...rename.args.matchAll(/"([^"]+)"/g)][1]![1]!;
      const fileSync = calls.find((c) => ["fsync", "fdatasync"].includes(c.name) && /cccc000001\.[0-9a-f]+\.tmp$/.test(fdPath(c) ?? "") && c.end < Infinity);
      const dirSync = calls.find((c) => ["fsync", "fdatasync"].includes(c.name) && fdPath(c) === dirname(target) && c.start > rename.end && c.end < Infinity);
      return ack && fileSync && dirSync && { rename, ack, fileSync, dirSync };
    }, "the 201 and the calls before it in the trace");
    expect(fileSync.end).toBeLessThan(rename.start);
    expect(dirSync.end).toBeLessThan(ack.start);
  });
});
