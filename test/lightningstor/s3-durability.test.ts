import { expect, test } from "bun:test";
import {
  CompleteMultipartUploadCommand,
  CreateBucketCommand,
  CreateMultipartUploadCommand,
  DeleteObjectCommand,
  PutObjectCommand,
  UploadPartCommand,
} from "@aws-sdk/client-s3";
import { randomBytes } from "node:crypto";
import { dirname, join } from "node:path";
import { run } from "../helpers/nbd-export.ts";
import { tempDir } from "../helpers/photon.ts";
import { startGateway } from "../helpers/s3-gateway.ts";
import { fdPath, readTrace, type TracedCall } from "../helpers/strace.ts";

/**
 * The page cache survives a SIGKILL, so killing the gateway proves nothing
 * about durability. It runs under strace instead, and each acknowledgement
 * (the response's first bytes on the socket) must come after the fsyncs of
 * what it acknowledges: chunk files, their directory entries, the metadata commit.
 */

const MiB = 1024 * 1024;
const SYNCS = new Set(["fsync", "fdatasync"]);
const RENAMES = new Set(["rename", "renameat", "renameat2"]);

/** Calls that write a success response (`HTTP/1.1 2xx`, not a 100 Continue) to a socket, in order. */
function responses(calls: TracedCall[]): TracedCall[] {
  return calls.filter((c) => ["sendto", "sendmsg", "write", "writev"].includes(c.name) && /^\d+<(TCP|socket)/.test(c.args) && c.args.includes('"HTTP/1.1 2'));
}

/** What returned between two responses. */
function between(calls: TracedCall[], from: TracedCall, to: TracedCall): TracedCall[] {
  return calls.filter((c) => c.end > from.start && c.end < to.start);
}

/** The rename targets of chunk files put between two responses, each checked for fsync-rename-fsync order. */
function durableChunks(window: TracedCall[]): string[] {
  const renames = window.filter((c) => RENAMES.has(c.name) && c.args.includes(".tmp"));
  return renames.map((rename) => {
    const [from, to] = [...rename.args.matchAll(/"([^"]+)"/g)].map((m) => m[1]!);
    // The temp file is fsynced before its rename, the directory after it.
    const fileSync = window.find((c) => SYNCS.has(c.name) && fdPath(c) === from && c.end < rename.start);
    const dirSync = window.find((c) => SYNCS.has(c.name) && fdPath(c) === dirname(to!) && c.start > rename.end);
    expect({ chunk: to, fileSynced: fileSync !== undefined, dirSynced: dirSync !== undefined }).toEqual({ chunk: to, fileSynced: true, dirSynced: true });
    return to!;
  });
}

/** Whether the metadata database's write-ahead log was fsynced in the window. */
function metadataCommitted(window: TracedCall[]): boolean {
  return window.some((c) => SYNCS.has(c.name) && fdPath(c)?.endsWith("s3-gateway.db-wal") === true);
}

test("every acknowledged change is fsynced first: chunks, their directories and the metadata commit", async () => {
  using dir = tempDir("photon-s3-strace-");
  const trace = join(dir.path, "trace.txt");
  const traced = "trace=fsync,fdatasync,rename,renameat,renameat2,mkdir,mkdirat,sendto,sendmsg,write,writev";
  await using gw = await startGateway({ wrap: ["strace", "-f", "-qq", "-y", "-s", "16", "-e", traced, "-o", trace] });
  const s3 = gw.client();
  await s3.send(new CreateBucketCommand({ Bucket: "durable" })); // response 0
  await s3.send(new PutObjectCommand({ Bucket: "durable", Key: "small", Body: randomBytes(100_000) })); // 1
  await s3.send(new PutObjectCommand({ Bucket: "durable", Key: "two-chunks", Body: randomBytes(20 * MiB) })); // 2
  const { UploadId } = await s3.send(new CreateMultipartUploadCommand({ Bucket: "durable", Key: "parts" })); // 3
  const part = await s3.send(new UploadPartCommand({ Bucket: "durable", Key: "parts", UploadId, PartNumber: 1, Body: randomBytes(MiB) })); // 4
  const parts = { Parts: [{ PartNumber: 1, ETag: part.ETag, ChecksumCRC32: part.ChecksumCRC32 }] };
  await s3.send(new CompleteMultipartUploadCommand({ Bucket: "durable", Key: "parts", UploadId, MultipartUpload: parts })); // 5
  await s3.send(new DeleteObjectCommand({ Bucket: "durable", Key: "small" })); // 6
  await s3.send(new PutObjectCommand({ Bucket: "durable", Key: "last", Body: Buffer.from("x") })); // 7
  s3.destroy();
  // Stop the traced gateway itself (strace exits with it).
  await run(["pkill", "-TERM", "-P", String(gw.proc.proc.pid)]);
  expect(await gw.proc.exited).toBe(0);

  const calls = readTrace(trace);
  const acks = responses(calls);
  expect(acks).toHaveLength(8);
  const window = (n: number) => between(calls, acks[n - 1]!, acks[n]!);

  // The first chunk lands in a new subdirectory: its entry in the chunk directory is made durable too.
  const small = durableChunks(window(1));
  expect(small).toHaveLength(1);
  const chunkDir = dirname(dirname(small[0]!));
  expect(window(1).some((c) => c.name.startsWith("mkdir") && c.args.includes(dirname(small[0]!)))).toBe(true);
  expect(window(1).some((c) => SYNCS.has(c.name) && fdPath(c) === chunkDir)).toBe(true);
  expect(metadataCommitted(window(1))).toBe(true);

  expect(durableChunks(window(2))).toHaveLength(2); // 20 MiB: a 16 MiB chunk and the rest
  expect(metadataCommitted(window(2))).toBe(true);
  expect(metadataCommitted(window(3))).toBe(true); // the upload exists
  expect(durableChunks(window(4))).toHaveLength(1);
  expect(metadataCommitted(window(4))).toBe(true);
  expect(metadataCommitted(window(5))).toBe(true); // the completed object
  expect(metadataCommitted(window(6))).toBe(true); // the delete
  expect(durableChunks(window(7))).toHaveLength(1);
  expect(metadataCommitted(window(7))).toBe(true);
});
