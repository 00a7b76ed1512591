import { expect, test } from "bun:test";
import { CreateBucketCommand, GetObjectCommand, PutObjectCommand } from "@aws-sdk/client-s3";
import { getSignedUrl } from "@aws-sdk/s3-request-presigner";
import { randomBytes } from "node:crypto";
import { closeSync, openSync, readdirSync, statSync, writeSync } from "node:fs";
import { join } from "node:path";
import { startGateway } from "../helpers/s3-gateway.ts";

const MiB = 1024 * 1024;

/** Bytes of a GET's body that arrived before it ended (normally or not). */
async function received(url: string, range?: string): Promise<{ status: number; bytes: number }> {
  const response = await fetch(url, { headers: range ? { range } : {} });
  let bytes = 0;
  try {
    for await (const piece of response.body!) bytes += piece.length;
  } catch {
    // a body cut short by the server: what arrived is counted
  }
  return { status: response.status, bytes };
}

test("a damaged chunk ends a GET short — never a whole wrong body — and other objects are still served", async () => {
  await using gw = await startGateway();
  const s3 = gw.client();
  const chunksDir = join(gw.dataDir, "chunks");
  const chunkFiles = () => new Set(readdirSync(chunksDir).flatMap((sub) => readdirSync(join(chunksDir, sub)).map((name) => join(chunksDir, sub, name))));
  const put = async (key: string, body: Uint8Array | string) => {
    const before = chunkFiles();
    await s3.send(new PutObjectCommand({ Bucket: "rot", Key: key, Body: body }));
    return [...chunkFiles()].filter((path) => !before.has(path));
  };
  const damage = (path: string, at: number) => {
    const fd = openSync(path, "r+");
    writeSync(fd, Buffer.from([0x5a ^ 0xff]), 0, 1, at);
    writeSync(fd, Buffer.from([0x5a]), 0, 1, at + 1);
    closeSync(fd);
  };

  await s3.send(new CreateBucketCommand({ Bucket: "rot" }));
  // A small object (sent from the event loop) and one of two chunks (16 MiB + 4 MiB, sent by a worker).
  const [smallChunk] = await put("small", randomBytes(300 * 1024));
  const largeChunks = await put("large", randomBytes(20 * MiB));
  await put("intact", "still here");
  expect(largeChunks).toHaveLength(2);
  damage(smallChunk!, 1000);
  damage(largeChunks.find((path) => statSync(path).size < 16 * MiB)!, 1000);

  const url = (key: string) => getSignedUrl(s3, new GetObjectCommand({ Bucket: "rot", Key: key }));
  const small = await received(await url("small"));
  expect(small.status).toBe(200);
  expect(small.bytes).toBeLessThan(300 * 1024);
  const large = await received(await url("large"));
  expect(large.status).toBe(200);
  expect(large.bytes).toBeLessThan(20 * MiB);
  const range = await received(await url("small"), "bytes=0-99");
  expect(range.status).toBe(206);
  expect(range.bytes).toBeLessThan(100);

  const intact = await s3.send(new GetObjectCommand({ Bucket: "rot", Key: "intact" }));
  expect(await intact.Body!.transformToString()).toBe("still here");
  s3.destroy();
});
