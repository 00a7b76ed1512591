import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { closeSync, openSync, readFileSync, readSync, writeFileSync, writeSync } from "node:fs";
import { basename, join } from "node:path";
import { NbdClient } from "../../src/coronafs/nbd/client.ts";
import { mustRun, run, startExport, type TestExport } from "../helpers/nbd-export.ts";
import { tempDir } from "../helpers/photon.ts";

const MiB = 1024 * 1024;
let ex: TestExport;
let good: Buffer;
const scratch = tempDir("photon-hostile-");
beforeAll(async () => {
  ex = await startExport();
  await ex.createVolume("healthy", MiB);
  const file = join(scratch.path, "good.qcow2");
  await mustRun(["qemu-img", "create", "-q", "-f", "qcow2", file, "8M"]);
  await mustRun(["qemu-io", "-f", "qcow2", "-c", "write -P 0x5a 0 128k", file]);
  good = readFileSync(file);
});
afterAll(async () => {
  await ex[Symbol.asyncDispose]();
  scratch[Symbol.dispose]();
});

/** The server still serves a healthy volume to a new client. */
async function stillServing(): Promise<void> {
  const info = JSON.parse(await mustRun(["nbdinfo", "--json", ex.unixUri("healthy")])) as { exports: { "export-size": number }[] };
  expect(info.exports[0]!["export-size"]).toBe(MiB);
}

async function upload(name: string, bytes: Uint8Array): Promise<Response> {
  return fetch(`${ex.admin}/v1/volumes/${name}/image?format=qcow2`, { method: "PUT", headers: { authorization: `Bearer ${ex.token}` }, body: bytes });
}

/** A copy of the good image with `patch` applied to its header. */
function mutated(patch: (b: Buffer) => void): Buffer {
  const copy = Buffer.from(good);
  patch(copy);
  return copy;
}

describe("hostile qcow2 images", () => {
  const cases: [string, (b: Buffer) => void, string][] = [
    ["version 4", (b) => b.writeUInt32BE(4, 4), "unsupported version"],
    ["huge cluster bits", (b) => b.writeUInt32BE(30, 20), "cluster_bits"],
    ["encryption", (b) => b.writeUInt32BE(1, 32), "encrypted"],
    ["unknown incompatible feature", (b) => b.writeBigUInt64BE(1n << 40n, 72), "unknown incompatible features"],
    ["external data file", (b) => b.writeBigUInt64BE(1n << 2n, 72), "external data"],
    ["extended L2 entries", (b) => b.writeBigUInt64BE(1n << 4n, 72), "extended L2"],
    ["absurd virtual size", (b) => b.writeBigUInt64BE(1n << 60n, 24), "virtual size"],
    ["L1 table beyond the end of the file", (b) => b.writeBigUInt64BE(1n << 40n, 40), "beyond the end of the file"],
    ["L1 table over the header", (b) => b.writeBigUInt64BE(0n, 40), "overlaps the header"],
    ["oversized L1 table", (b) => b.writeUInt32BE(0x7fffffff, 36), "too large"],
    ["refcount table beyond the end of the file", (b) => b.writeBigUInt64BE(1n << 30n, 48), "beyond the end of the file"],
    ["refcount table overlapping L1", (b) => b.writeBigUInt64BE(b.readBigUInt64BE(40), 48), "overlap"],
    ["header length past the cluster", (b) => b.writeUInt32BE(1 << 20, 100), "header_length"],
    ["header extension running past the cluster", (b) => { b.writeUInt32BE(0x12345678, 112); b.writeUInt32BE(1 << 20, 116); }, "header extension"],
    ["refcount order 7", (b) => b.writeUInt32BE(7, 96), "refcount_order"],
  ];
  for (const [what, patch, message] of cases) {
    test(`${what}: refused at import with a clear error`, async () => {
      const name = "bad-" + what.replace(/[^a-z0-9]+/gi, "-");
      const res = await upload(name, mutated(patch));
      expect(res.status).toBe(400);
      expect(((await res.json()) as { detail: string }).detail).toContain(message);
      expect((await ex.api("GET", `/v1/volumes/${name}`)).status).toBe(404);
      await stillServing();
    });
  }

  test("an L2 entry pointing past the end of the file fails that read with EIO, nothing else", async () => {
    const image = Buffer.from(good);
    const l2 = Number(image.readBigUInt64BE(Number(image.readBigUInt64BE(40))) & 0x00ff_ffff_ffff_fe00n);
    image.writeBigUInt64BE((1n << 63n) | (1n << 40n), l2); // cluster 0 now claims to live at 1 TiB
    expect((await upload("l2-hostile", image)).status).toBe(201);
    const read = await run(["qemu-io", "-f", "raw", "-c", "read 0 4k", ex.unixUri("l2-hostile")]);
    expect(read.stdout + read.stderr).toContain("Input/output error");
    // Other clusters of the same image still read.
    const other = await run(["qemu-io", "-f", "raw", "-c", "read -P 0x5a 64k 64k", ex.unixUri("l2-hostile")]);
    expect(other.stdout).not.toContain("verification failed");
    expect(other.code).toBe(0);
    await stillServing();
  });

  /** Rewrites the backing file name of a Photon overlay on disk. */
  function setBackingName(file: string, name: string): void {
    const fd = openSync(file, "r+");
    const header = Buffer.alloc(4096);
    readSync(fd, header, 0, header.length, 0);
    const at = Number(header.readBigUInt64BE(8));
    const bytes = Buffer.from(name);
    const size = Buffer.alloc(4);
    size.writeUInt32BE(bytes.length);
    writeSync(fd, bytes, 0, bytes.length, at);
    writeSync(fd, size, 0, 4, 16);
    closeSync(fd);
  }

  for (const [what, name, message] of [
    ["escaping the store", (_self: string) => "../../../../../../etc/passwd", "outside the volume store"],
    ["absolute outside the store", (_self: string) => "/etc/hostname", "outside the volume store"],
    ["pointing at itself", (self: string) => self, "forms a loop"],
    ["missing", (_self: string) => "nope.raw", "does not exist"],
  ] as const) {
    test(`a backing file name ${what} is refused at open`, async () => {
      const base = `lb-${what.split(" ")[0]}`;
      const over = `lo-${what.split(" ")[0]}`;
      await ex.createVolume(base, MiB);
      await ex.createVolume(over, MiB, { backing: base });
      const file = await ex.volumeFile(over);
      setBackingName(file, name(basename(file)));
      // The refusal carries the reason in NBD_OPT_GO's error reply, and in the server's log.
      await expect(NbdClient.connect({ uri: ex.unixUri(over) })).rejects.toThrow(message);
      expect((await run(["nbdinfo", ex.unixUri(over)])).code).not.toBe(0);
      await ex.proc.waitForLog((l) => l.msg === "export refused" && l.export === over && String(l.error).includes(message), "refusal logged");
      await stillServing();
    });
  }
});

/** Opens a raw socket to the export and reads the 18-byte greeting. */
async function rawConnection() {
  const received: Buffer[] = [];
  let closed = false;
  const socket = await Bun.connect({
    unix: ex.socket,
    socket: {
      data: (_s, chunk) => void received.push(Buffer.from(chunk)),
      close: () => void (closed = true),
    },
  });
  const bytes = () => Buffer.concat(received);
  const waitBytes = async (n: number) => {
    for (let i = 0; i < 400 && bytes().length < n && !closed; i++) await Bun.sleep(5);
    return bytes();
  };
  const waitClosed = async () => {
    for (let i = 0; i < 400 && !closed; i++) await Bun.sleep(5);
    return closed;
  };
  await waitBytes(18);
  return { socket, bytes, waitBytes, waitClosed };
}

function option(type: number, data: Buffer): Buffer {
  const header = Buffer.alloc(16);
  header.writeBigUInt64BE(0x49484156454f5054n, 0);
  header.writeUInt32BE(type, 8);
  header.writeUInt32BE(data.length, 12);
  return Buffer.concat([header, data]);
}

function go(name: string): Buffer {
  const n = Buffer.from(name);
  const data = Buffer.alloc(4 + n.length + 2);
  data.writeUInt32BE(n.length, 0);
  n.copy(data, 4);
  return option(7, data);
}

const flags = (value: number) => {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(value);
  return b;
};

describe("malformed handshakes close only that client", () => {
  test("the greeting offers fixed newstyle with NO_ZEROES", async () => {
    const c = await rawConnection();
    const hello = c.bytes();
    expect(hello.subarray(0, 16).toString("latin1")).toBe("NBDMAGICIHAVEOPT");
    expect(hello.readUInt16BE(16)).toBe(3);
    c.socket.end();
  });

  for (const [what, bytes] of [
    ["unknown client flags", flags(0xff)],
    ["a bad option magic", Buffer.concat([flags(3), Buffer.from("NOTMAGIC"), Buffer.alloc(8)])],
    ["a huge option length", Buffer.concat([flags(3), option(99, Buffer.alloc(0)).subarray(0, 12), Buffer.from([0x7f, 0xff, 0xff, 0xff])])],
    ["NBD_OPT_EXPORT_NAME for a missing export", Buffer.concat([flags(3), option(1, Buffer.from("no-such-volume"))])],
  ] as const) {
    test(`${what}: connection closed, server keeps serving`, async () => {
      const c = await rawConnection();
      c.socket.write(bytes);
      expect(await c.waitClosed()).toBe(true);
      await stillServing();
    });
  }

  test("an unknown option is answered NBD_REP_ERR_UNSUP and the session goes on", async () => {
    const c = await rawConnection();
    c.socket.write(Buffer.concat([flags(3), option(99, Buffer.from("0123456789"))]));
    const reply = (await c.waitBytes(18 + 20)).subarray(18);
    expect(reply.readUInt32BE(8)).toBe(99);
    expect(reply.readUInt32BE(12)).toBe(0x80000001);
    const replyLength = 20 + reply.readUInt32BE(16);
    c.socket.write(go("healthy"));
    const after = (await c.waitBytes(18 + replyLength + 20 + 12 + 20)).subarray(18 + replyLength);
    expect(after.readUInt32BE(12)).toBe(3); // NBD_REP_INFO
    expect(after.readUInt16BE(20)).toBe(0); // NBD_INFO_EXPORT
    expect(after.readBigUInt64BE(22)).toBe(BigInt(MiB));
    c.socket.end();
  });

  test("a truncated request or a bad request magic ends that connection only", async () => {
    for (const request of [Buffer.alloc(10, 1), Buffer.alloc(28, 0x41)]) {
      const c = await rawConnection();
      c.socket.write(Buffer.concat([flags(3), go("healthy")]));
      await c.waitBytes(18 + 32 + 20);
      c.socket.write(request);
      if (request.length === 10) c.socket.end();
      else expect(await c.waitClosed()).toBe(true);
      await stillServing();
    }
  });
});
