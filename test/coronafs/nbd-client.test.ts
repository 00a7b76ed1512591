import { afterAll, describe, expect, test } from "bun:test";
import { randomBytes } from "node:crypto";
import { truncateSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { Subprocess } from "bun";
import { NbdClient, NbdClientError } from "../../src/coronafs/nbd/client.ts";
import { startExport } from "../helpers/nbd-export.ts";
import { tempDir, waitFor } from "../helpers/photon.ts";

const MiB = 1024 * 1024;
const dir = tempDir("photon-client-");
const peers: Subprocess[] = [];
afterAll(async () => {
  for (const p of peers) {
    p.kill();
    await p.exited;
  }
  dir[Symbol.dispose]();
});

/** Starts a peer NBD server on a unix socket and returns its URI. */
async function peer(name: string, cmd: (sock: string, file: string) => string[]): Promise<string> {
  const sock = join(dir.path, `${name}.sock`);
  const file = join(dir.path, `${name}.raw`);
  writeFileSync(file, "");
  truncateSync(file, 16 * MiB);
  peers.push(Bun.spawn(cmd(sock, file), { stdout: "ignore", stderr: "inherit" }));
  const uri = `nbd+unix:///?socket=${sock}`;
  await waitFor(async () => NbdClient.connect({ uri }).then((c) => c.close().then(() => true), () => false), `${name} up`);
  return uri;
}

/** The same checks against every server: pipelined I/O, zeroing, block status, errors. */
async function exercise(uri: string): Promise<void> {
  const c = await NbdClient.connect({ uri }, { window: 8 });
  expect(c.size).toBe(16 * MiB);
  expect(c.structuredReplies).toBe(true);
  const chunks = Array.from({ length: 32 }, (_, i) => ({ offset: i * 256 * 1024, data: randomBytes(100_000) }));
  await Promise.all(chunks.map((ch) => c.write(ch.offset, ch.data)));
  await c.flush();
  const reads = await Promise.all(chunks.map((ch) => c.read(ch.offset, ch.data.length)));
  reads.forEach((r, i) => expect(r.equals(chunks[i]!.data)).toBe(true));
  await c.writeZeroes(0, MiB);
  expect((await c.read(0, MiB)).equals(Buffer.alloc(MiB))).toBe(true);
  // Into a caller's dirty buffer: zeroed ranges (sent as holes or as data) come out as zeros.
  const dirty = Buffer.alloc(MiB + 100_000, 0xff);
  const into = await c.read(0, MiB + 100_000, dirty);
  expect(into.buffer).toBe(dirty.buffer);
  expect(into.equals(Buffer.concat([Buffer.alloc(MiB), chunks[4]!.data]))).toBe(true);
  // Every server here offers base:allocation: not negotiating it is a failure, not a reason to skip.
  expect(c.baseAllocation).toBe(true);
  const extents = await c.blockStatus(0, 16 * MiB);
  expect(extents.length).toBeGreaterThan(0);
  expect(extents.reduce((s, e) => s + e.length, 0)).toBeLessThanOrEqual(16 * MiB);
  const err = await c.read(16 * MiB - 10, 20).catch((e: unknown) => e);
  expect(err).toBeInstanceOf(NbdClientError);
  expect((err as NbdClientError).errno).toBe(22);
  // After an error the connection still works.
  expect((await c.read(MiB, 16)).equals(chunks[4]!.data.subarray(0, 16))).toBe(true);
  await c.close();
}

describe("Photon's NBD client", () => {
  test("works against Photon's export", async () => {
    await using ex = await startExport();
    await ex.createVolume("client", 16 * MiB);
    await exercise(ex.unixUri("client"));
    await exercise(ex.tcpUri("client"));
  });

  test("works against nbdkit", async () => {
    await exercise(await peer("nbdkit", (sock, file) => ["nbdkit", "-f", "-U", sock, "file", file]));
  });

  test("works against qemu-nbd", async () => {
    await exercise(await peer("qemu-nbd", (sock, file) => ["qemu-nbd", "-t", "-e", "4", "-f", "raw", "-k", sock, file]));
  });

  test("reports a refused export and a dead server clearly", async () => {
    await using ex = await startExport();
    await expect(NbdClient.connect({ uri: ex.unixUri("missing") })).rejects.toThrow('export "missing" refused');
    await expect(NbdClient.connect({ uri: `nbd+unix:///x?socket=${join(dir.path, "none.sock")}` })).rejects.toThrow();
    expect(() => NbdClient.connect({ uri: "http://example/x" })).toThrow("unsupported scheme");
  });
});
