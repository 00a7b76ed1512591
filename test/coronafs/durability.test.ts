import { describe, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { NbdClient } from "../../src/coronafs/nbd/client.ts";
import { run, startExport } from "../helpers/nbd-export.ts";
import { tempDir } from "../helpers/photon.ts";

/**
 * The page cache survives a SIGKILL, so killing the server proves nothing
 * about durability. Instead the server runs under strace and we check that
 * the fdatasync calls happen before the reply that acknowledges them.
 */

interface Call {
  name: string;
  line: string;
}

function parseTrace(path: string): Call[] {
  return readFileSync(path, "utf8")
    .split("\n")
    .map((line) => ({ line, name: /^(?:\[pid\s+\d+\]\s+|\d+\s+)?(\w+)\(/.exec(line)?.[1] ?? "" }))
    .filter((c) => c.name !== "");
}

/** Index of the reply to request `handle` (a 16-byte simple reply with that handle). */
function replyIndex(calls: Call[], handle: number): number {
  const tail = `\\0\\0\\0\\0\\0\\0\\0${handle === 1 ? "\\1" : handle === 2 ? "\\2" : "\\3"}"`;
  const index = calls.findIndex((c) => (c.name === "sendto" || c.name === "write" || c.name === "sendmsg") && c.line.includes('"gDf\\230\\0\\0\\0\\0' + tail));
  if (index < 0) throw new Error(`no reply for handle ${handle} in the trace`);
  return index;
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

      const calls = parseTrace(trace);
      const [r1, r2, r3] = [replyIndex(calls, 1), replyIndex(calls, 2), replyIndex(calls, 3)];
      expect(r1).toBeLessThan(r2);
      expect(r2).toBeLessThan(r3);
      const syncs = (from: number, to: number) => calls.slice(from, to).filter((c) => c.name === "fdatasync" || c.name === "fsync").length;
      const dataWriteBefore = (from: number, to: number, byte: string) => calls.slice(from, to).some((c) => c.name === "pwrite64" && c.line.includes(byte));

      // WRITE: data written, no sync before its reply.
      expect(dataWriteBefore(0, r1, "\\241\\241")).toBe(true);
      const sinceCreate = calls.slice(0, r1).map((c) => c.name).lastIndexOf("pwrite64");
      expect(syncs(sinceCreate, r1)).toBe(0);

      // FLUSH and FUA: every pwrite between the request and the reply (data, refcounts, L2, L1)
      // is followed by an fdatasync, and the last call before the reply is an fdatasync.
      for (const [from, to] of [[r1, r2], [r2, r3]] as const) {
        const window = calls.slice(from + 1, to);
        const lastWrite = window.map((c) => c.name).lastIndexOf("pwrite64");
        const lastSync = Math.max(window.map((c) => c.name).lastIndexOf("fdatasync"), window.map((c) => c.name).lastIndexOf("fsync"));
        expect(lastSync).toBeGreaterThan(lastWrite);
        expect(lastSync).toBeGreaterThanOrEqual(0);
      }
      expect(dataWriteBefore(r2, r3, "\\262\\262")).toBe(true);
      if (format === "qcow2") {
        // Metadata is written at flush time, in two steps: refcounts + data, then the L2 table.
        const flushWindow = calls.slice(r1 + 1, r2).map((c) => c.name);
        expect(flushWindow.filter((n) => n === "pwrite64").length).toBeGreaterThanOrEqual(2);
        expect(flushWindow.filter((n) => n === "fdatasync").length).toBeGreaterThanOrEqual(2);
        const firstSync = flushWindow.indexOf("fdatasync");
        expect(flushWindow.slice(firstSync).includes("pwrite64")).toBe(true);
      }
    });
  });
}
