import { afterAll, describe, expect, test } from "bun:test";
import {
  CopyObjectCommand,
  CreateMultipartUploadCommand,
  GetObjectCommand,
  HeadObjectCommand,
  ListPartsCommand,
  PutObjectCommand,
  UploadPartCopyCommand,
} from "@aws-sdk/client-s3";
import { randomBytes } from "node:crypto";
import { closeSync, openSync, readdirSync, readFileSync, writeFileSync, writeSync } from "node:fs";
import { join } from "node:path";
import { aws } from "../helpers/awscli.ts";
import { tempDir } from "../helpers/photon.ts";
import { s3Error, sharedGateway } from "../helpers/s3-gateway.ts";

/**
 * A standalone gateway (chunks in its data dir) never sends a byte its block
 * checksum did not vouch for: a damaged block ends the response before it,
 * and chunk files written before block checksums (format 1) still read.
 */

const MiB = 1024 * 1024;
const shared = sharedGateway("blocks");
const home = tempDir("photon-awscli-");
afterAll(() => home[Symbol.dispose]());

/** Puts an object of one chunk and returns its body and the chunk's file. */
async function putOneChunk(key: string, size: number): Promise<{ body: Buffer; file: string }> {
  const root = join(shared.gw.dataDir, "chunks");
  const files = () => new Set(readdirSync(root, { recursive: true, encoding: "utf8" }).filter((f) => f.includes("/")));
  const before = files();
  const body = randomBytes(size);
  await shared.s3.send(new PutObjectCommand({ Bucket: "blocks", Key: key, Body: body }));
  const added = [...files()].filter((f) => !before.has(f));
  expect(added).toHaveLength(1);
  return { body, file: join(root, added[0]!) };
}

/** Flips `length` bytes of a file at `offset`; returns what they are now. */
function flip(file: string, offset: number, length: number): Buffer {
  const flipped = Buffer.from(readFileSync(file).subarray(offset, offset + length).map((b) => b ^ 0xff));
  const fd = openSync(file, "r+");
  writeSync(fd, flipped, 0, length, offset);
  closeSync(fd);
  return flipped;
}

/** Rewrites a chunk file in format 1, as chunks were stored before block checksums: data, `PHTNCHK1`, CRC32 (BE), 4 reserved bytes. */
function rewriteAsFormat1(file: string, body: Buffer): void {
  const footer = Buffer.alloc(16);
  footer.write("PHTNCHK1", 0, "latin1");
  footer.writeUInt32BE(Bun.hash.crc32(body) >>> 0, 8);
  writeFileSync(file, Buffer.concat([body, footer]));
}

/** Whether `got` is a prefix of `body`: what a client may hold after a failed read. */
const prefixOf = (got: Uint8Array, body: Buffer) => got.length <= body.length && body.subarray(0, got.length).equals(got);

describe("block checksums on a standalone gateway", () => {
  test("a damaged block: awscli exits non-zero and was never sent a damaged byte", async () => {
    const { body, file } = await putOneChunk("damaged", 4 * MiB);
    const damaged = flip(file, 1_000_000, 16);
    const out = await aws(shared.gw, home.path, "s3", "cp", "s3://blocks/damaged", "-");
    expect(out.code).not.toBe(0);
    // awscli starts over on each retry and writes what it got each time: only ever intact bytes from before the damaged block.
    expect(out.stdout.includes(damaged)).toBe(false);
    expect(out.stdout.includes(body.subarray(983_040, 983_040 + 1024))).toBe(false); // the damaged block starts there (64 KiB blocks)
    expect(prefixOf(out.stdout.subarray(0, 65536), body)).toBe(true);
    // A range that avoids the damaged block is served whole.
    const range = await shared.s3.send(new GetObjectCommand({ Bucket: "blocks", Key: "damaged", Range: "bytes=2000000-2999999" }));
    expect(Buffer.from(await range.Body!.transformToByteArray()).equals(body.subarray(2_000_000, 3_000_000))).toBe(true);
  }, 60_000);

  test("the SDK's GET of a damaged object fails, and CopyObject from it copies nothing", async () => {
    const { body, file } = await putOneChunk("damaged-sdk", MiB);
    flip(file, 500_000, 16);
    const read = async () => {
      const out = await shared.s3.send(new GetObjectCommand({ Bucket: "blocks", Key: "damaged-sdk" }));
      return out.Body!.transformToByteArray();
    };
    const got = await read().catch((err: unknown) => err);
    expect(got).toBeInstanceOf(Error);
    expect(await s3Error(shared.s3.send(new CopyObjectCommand({ Bucket: "blocks", Key: "copy-of-damaged", CopySource: "blocks/damaged-sdk" })))).toMatchObject({ status: 500 });
    expect(await s3Error(shared.s3.send(new HeadObjectCommand({ Bucket: "blocks", Key: "copy-of-damaged" })))).toMatchObject({ status: 404 });
    expect(body.length).toBe(MiB);
  });

  test("UploadPartCopy from a damaged source fails and records no part", async () => {
    await putOneChunk("intact-part-source", MiB);
    const { file } = await putOneChunk("damaged-part-source", 2 * MiB);
    flip(file, MiB + 100_000, 16);
    const { UploadId } = await shared.s3.send(new CreateMultipartUploadCommand({ Bucket: "blocks", Key: "from-damaged" }));
    const copyPart = (PartNumber: number, source: string, CopySourceRange?: string) =>
      shared.s3.send(new UploadPartCopyCommand({ Bucket: "blocks", Key: "from-damaged", UploadId, PartNumber, CopySource: `blocks/${source}`, CopySourceRange }));
    expect(await s3Error(copyPart(1, "damaged-part-source"))).toMatchObject({ status: 500 });
    expect(await s3Error(copyPart(2, "damaged-part-source", `bytes=${MiB}-${2 * MiB - 1}`))).toMatchObject({ status: 500 });
    await copyPart(3, "intact-part-source");
    const parts = await shared.s3.send(new ListPartsCommand({ Bucket: "blocks", Key: "from-damaged", UploadId }));
    expect(parts.Parts?.map((p) => p.PartNumber)).toEqual([3]);
  });

  test("chunks stored in format 1 (before block checksums) are read back after the upgrade, and still checked", async () => {
    const { body, file } = await putOneChunk("format1", 3 * MiB + 5);
    rewriteAsFormat1(file, body);
    const whole = await shared.s3.send(new GetObjectCommand({ Bucket: "blocks", Key: "format1" }));
    expect(Buffer.from(await whole.Body!.transformToByteArray()).equals(body)).toBe(true);
    const range = await shared.s3.send(new GetObjectCommand({ Bucket: "blocks", Key: "format1", Range: "bytes=100-1999999" }));
    expect(Buffer.from(await range.Body!.transformToByteArray()).equals(body.subarray(100, 2_000_000))).toBe(true);
    const aw = await aws(shared.gw, home.path, "s3", "cp", "s3://blocks/format1", "-");
    expect(aw.code).toBe(0);
    expect(aw.stdout.equals(body)).toBe(true);
    await shared.s3.send(new CopyObjectCommand({ Bucket: "blocks", Key: "format1-copy", CopySource: "blocks/format1" }));
    const copy = await shared.s3.send(new GetObjectCommand({ Bucket: "blocks", Key: "format1-copy" }));
    expect(Buffer.from(await copy.Body!.transformToByteArray()).equals(body)).toBe(true);
    // A damaged format-1 chunk is checked whole: nothing of it is sent.
    flip(file, 3 * MiB, 1);
    const damaged = await aws(shared.gw, home.path, "s3", "cp", "s3://blocks/format1", "-");
    expect(damaged.code).not.toBe(0);
    expect(damaged.stdout.length).toBe(0);
  }, 60_000);
});
