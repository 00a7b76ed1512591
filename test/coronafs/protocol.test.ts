import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { randomBytes } from "node:crypto";
import { NbdClient } from "../../src/coronafs/nbd/client.ts";
import { CMD, CMD_FLAG, NBD_ERR, TF } from "../../src/coronafs/nbd/protocol.ts";
import { startExport, type TestExport } from "../helpers/nbd-export.ts";

const MiB = 1024 * 1024;
let ex: TestExport;
beforeAll(async () => {
  ex = await startExport();
  await ex.createVolume("p", 4 * MiB);
  await ex.createVolume("pq", 4 * MiB, { format: "qcow2" });
});
afterAll(async () => {
  await ex[Symbol.asyncDispose]();
});

const errnoOf = async (promise: Promise<unknown>) => {
  try {
    await promise;
  } catch (err) {
    return (err as { errno?: number }).errno;
  }
  throw new Error("request unexpectedly succeeded");
};

for (const structuredReplies of [true, false]) {
  describe(`request validation (${structuredReplies ? "structured" : "simple"} replies)`, () => {
    test("bad requests get the spec's errors and the connection keeps working", async () => {
      const c = await NbdClient.connect({ uri: ex.unixUri("p") }, { structuredReplies });
      expect(c.structuredReplies).toBe(structuredReplies);
      const size = c.size;
      expect(await errnoOf(c.read(size - 100, 200))).toBe(NBD_ERR.EINVAL);
      expect(await errnoOf(c.write(size - 100, Buffer.alloc(200, 7)))).toBe(NBD_ERR.ENOSPC);
      expect(await errnoOf(c.writeZeroes(size, 512))).toBe(NBD_ERR.ENOSPC);
      expect(await errnoOf(c.request(42, 0, 0, 512))).toBe(NBD_ERR.EINVAL);
      expect(await errnoOf(c.request(CMD.READ, CMD_FLAG.NO_HOLE, 0, 512))).toBe(NBD_ERR.EINVAL);
      expect(await errnoOf(c.request(CMD.WRITE, CMD_FLAG.REQ_ONE, 0, 4, Buffer.alloc(4)))).toBe(NBD_ERR.EINVAL);
      expect(await errnoOf(c.request(CMD.FLUSH, 0, 512, 0))).toBe(NBD_ERR.EINVAL);
      expect(await errnoOf(c.read(0, 0))).toBe(NBD_ERR.EINVAL);
      expect(await errnoOf(c.read(0, 64 * MiB))).toBe(NBD_ERR.EINVAL);
      // The rejected writes' payloads were consumed: the stream is still in step.
      const data = randomBytes(4096);
      await c.write(size - 4096, data, { fua: true });
      expect((await c.read(size - 4096, 4096)).equals(data)).toBe(true);
      // Nothing past the end was written by the rejected requests.
      expect((await c.read(size - 4200, 104)).equals(Buffer.alloc(104))).toBe(true);
      await c.close();
    });
  });
}

describe("transmission", () => {
  test("flags advertise what works: flush, FUA, trim, zeroes, fast zero, cache, multi-conn, DF", async () => {
    const c = await NbdClient.connect({ uri: ex.tcpUri("p") });
    for (const flag of [TF.HAS_FLAGS, TF.SEND_FLUSH, TF.SEND_FUA, TF.SEND_TRIM, TF.SEND_WRITE_ZEROES, TF.SEND_FAST_ZERO, TF.SEND_CACHE, TF.CAN_MULTI_CONN, TF.SEND_DF]) {
      expect(c.flags & flag).toBe(flag);
    }
    expect(c.flags & TF.READ_ONLY).toBe(0);
    await c.cache(0, MiB);
    await c.writeZeroes(0, MiB, { fast: true });
    await c.close();
  });

  test("BLOCK_STATUS needs a negotiated meta context, honours REQ_ONE, and reports holes", async () => {
    const plain = await NbdClient.connect({ uri: ex.unixUri("p") }, { baseAllocation: false });
    expect(await errnoOf(plain.request(CMD.BLOCK_STATUS, 0, 0, 4096))).toBe(NBD_ERR.EINVAL);
    await plain.close();
    for (const volume of ["p", "pq"]) {
      const c = await NbdClient.connect({ uri: ex.unixUri(volume) });
      await c.trim(0, 4 * MiB);
      await c.write(MiB, Buffer.alloc(MiB, 1));
      const all = await c.blockStatus(0, 4 * MiB);
      expect(all.reduce((sum, e) => sum + e.length, 0)).toBe(4 * MiB);
      expect(all.map((e) => e.flags & 1)).toEqual([1, 0, 1]);
      expect(all[1]!.length).toBe(MiB);
      const one = await c.blockStatus(0, 4 * MiB, { reqOne: true });
      expect(one).toHaveLength(1);
      expect(await errnoOf(c.blockStatus(4 * MiB - 512, 1024))).toBe(NBD_ERR.EINVAL);
      await c.close();
    }
  });

  test("many requests in flight per connection and several connections see each other's writes", async () => {
    const a = await NbdClient.connect({ uri: ex.unixUri("pq") }, { window: 64 });
    const b = await NbdClient.connect({ uri: ex.tcpUri("pq") }, { window: 64 });
    const blocks = Array.from({ length: 256 }, (_, i) => ({ offset: i * 16384 + (i % 7) * 512, data: randomBytes(4096 + (i % 3) * 1000) }));
    await Promise.all(blocks.map((blk, i) => (i % 2 ? a : b).write(blk.offset, blk.data)));
    await a.flush();
    const back = await Promise.all(blocks.map((blk, i) => (i % 2 ? b : a).read(blk.offset, blk.data.length)));
    back.forEach((buf, i) => expect(buf.equals(blocks[i]!.data)).toBe(true));
    await Promise.all([a.close(), b.close()]);
  });

  test("unaligned I/O across qcow2 cluster boundaries reads back what was written", async () => {
    const c = await NbdClient.connect({ uri: ex.unixUri("pq") });
    const data = randomBytes(200_000);
    await c.write(65536 - 777, data);
    expect((await c.read(65536 - 777, data.length)).equals(data)).toBe(true);
    // The bytes just before the write stay untouched (zeros): nothing spilled across the cluster edge.
    expect((await c.read(65536 - 1000, 223)).equals(Buffer.alloc(223))).toBe(true);
    await c.close();
  });
});
