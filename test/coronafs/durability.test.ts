import { describe, expect, test } from "bun:test";
import { join } from "node:path";
import { NbdClient } from "../../src/coronafs/nbd/client.ts";
import { run, startExport } from "../helpers/nbd-export.ts";
import { tempDir } from "../helpers/photon.ts";
import { readTrace, type TracedCall } from "../helpers/strace.ts";

/**
 * The page cache survives a SIGKILL, so killing the server proves nothing
 * about durability. Instead the server runs under strace and we check that
 * the fdatasync calls happen before the reply that acknowledges them.
 */

/** The call that sends the simple reply to request `handle` (16 bytes: magic, error 0, handle). */
function reply(calls: TracedCall[], handle: number): TracedCall {
  const tail = `\\0\\0\\0\\0\\0\\0\\0${handle === 1 ? "\\1" : handle === 2 ? "\\2" : "\\3"}"`;
  const found = calls.find((c) => ["sendto", "write", "sendmsg"].includes(c.name) && c.args.includes('"gDf\\230\\0\\0\\0\\0' + tail));
  if (!found) throw new Error(`no reply for handle ${handle} in the trace`);
  return found;
}

const MiB = 1024 * 1024;

for (const format of ["raw", "qcow2"] as const) {
  describe(`${format} volumes`, () => {
    test("a plain WRITE is answered from the page cache; FLUSH and FUA replies follow fdatasync of data and metadata", async () => {
      using dir = tempDir("photon-strace-");
      const trace = join(dir.path, "trace.txt");
      await using ex = await startExport({
        wrap: ["strace", "-f", "-qq", "-s", "24", "-e", "trace=fdatasync,fsync,pwrite64,sendto,sendmsg,write", "-o", trace],
      });
      await ex.createVolume("durable", 8 * MiB, { format });
      const c = await NbdClient.connect({ uri: ex.unixUri("durable") });
      await c.write(0, Buffer.alloc(70000, 0xa1)); // handle 1: allocates two qcow2 clusters
      await c.flush(); // handle 2
      await c.write(4 * MiB, Buffer.alloc(4096, 0xb2), { fua: true }); // handle 3: allocates again
      await c.close();
      // Stop the traced server itself (strace exits with it).
      await run(["pkill", "-TERM", "-P", String(ex.proc.proc.pid)]);
      expect(await ex.proc.exited).toBe(0);

      const calls = readTrace(trace);
      const [r1, r2, r3] = [reply(calls, 1), reply(calls, 2), reply(calls, 3)];
      expect(r1.start).toBeLessThan(r2.start);
      expect(r2.start).toBeLessThan(r3.start);
      /** The names of the calls that returned in [from, to), in the order they returned. */
      const returned = (from: number, to: number) => calls.filter((c) => c.end >= from && c.end < to).sort((a, b) => a.end - b.end).map((c) => c.name);
      const isSync = (name: string) => name === "fdatasync" || name === "fsync";
      const dataWritten = (from: number, to: number, byte: string) => calls.some((c) => c.name === "pwrite64" && c.end >= from && c.end < to && c.args.includes(byte));

      // WRITE: data written, no sync before its reply.
      expect(dataWritten(0, r1.start, "\\241\\241")).toBe(true);
      const beforeR1 = returned(0, r1.start);
      expect(beforeR1.slice(beforeR1.lastIndexOf("pwrite64")).filter(isSync)).toHaveLength(0);

      // FLUSH and FUA: every pwrite between the request and the reply (data, refcounts, L2, L1)
      // is followed by an fdatasync that returned before the reply.
      for (const [from, to] of [[r1, r2], [r2, r3]] as const) {
        const window = returned(from.start + 1, to.start);
        const lastSync = window.findLastIndex(isSync);
        expect(lastSync).toBeGreaterThanOrEqual(0);
        expect(lastSync).toBeGreaterThan(window.lastIndexOf("pwrite64"));
      }
      expect(dataWritten(r2.start, r3.start, "\\262\\262")).toBe(true);
      if (format === "qcow2") {
        // Metadata is written at flush time, in two steps: refcounts + data, then the L2 table.
        const flushWindow = returned(r1.start + 1, r2.start);
        expect(flushWindow.filter((n) => n === "pwrite64").length).toBeGreaterThanOrEqual(2);
        expect(flushWindow.filter(isSync).length).toBeGreaterThanOrEqual(2);
        const firstSync = flushWindow.findIndex(isSync);
        expect(flushWindow.slice(firstSync).includes("pwrite64")).toBe(true);
      }
    });
  });
}
