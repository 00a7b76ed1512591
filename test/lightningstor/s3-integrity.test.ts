import { expect, test } from "bun:test";
import type { Socket } from "bun";
import { CreateBucketCommand, GetObjectCommand, PutObjectCommand } from "@aws-sdk/client-s3";
import { getSignedUrl } from "@aws-sdk/s3-request-presigner";
import { randomBytes } from "node:crypto";
import { closeSync, openSync, readdirSync, statSync, writeSync } from "node:fs";
import { join } from "node:path";
import { waitFor } from "../helpers/photon.ts";
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

test("a GET under way when its object is overwritten gets the whole old object; the old chunks go after it", async () => {
  await using gw = await startGateway();
  const s3 = gw.client();
  const chunksDir = join(gw.dataDir, "chunks");
  const chunkCount = () => readdirSync(chunksDir).flatMap((sub) => readdirSync(join(chunksDir, sub))).length;
  await s3.send(new CreateBucketCommand({ Bucket: "race" }));
  const old = randomBytes(40 * MiB); // three chunks, far more than socket buffers hold
  await s3.send(new PutObjectCommand({ Bucket: "race", Key: "k", Body: old }));

  // A raw GET that stops reading after its first bytes, so the server is mid-transfer.
  const url = new URL(await getSignedUrl(s3, new GetObjectCommand({ Bucket: "race", Key: "k" })));
  const received: Buffer[] = [];
  let firstData!: () => void;
  let closed!: () => void;
  const started = new Promise<void>((resolve) => (firstData = resolve));
  const ended = new Promise<void>((resolve) => (closed = resolve));
  const socket: Socket = await Bun.connect({
    hostname: url.hostname,
    port: Number(url.port),
    socket: {
      data(sock, chunk) {
        received.push(Buffer.from(chunk));
        if (received.length === 1) {
          sock.pause();
          firstData();
        }
      },
      close: () => closed(),
    },
  });
  socket.write(`GET ${url.pathname}${url.search} HTTP/1.1\r\nHost: ${url.host}\r\nConnection: close\r\n\r\n`);
  await started;

  const fresh = randomBytes(MiB);
  await s3.send(new PutObjectCommand({ Bucket: "race", Key: "k", Body: fresh }));
  const now = await s3.send(new GetObjectCommand({ Bucket: "race", Key: "k" }));
  expect(Buffer.from(await now.Body!.transformToByteArray()).equals(fresh)).toBe(true);
  expect(chunkCount()).toBe(4); // the old three are still being read

  socket.resume();
  await ended;
  const response = Buffer.concat(received);
  const body = response.subarray(response.indexOf("\r\n\r\n") + 4);
  expect(response.toString("latin1", 0, 15)).toBe("HTTP/1.1 200 OK");
  expect(body.length).toBe(old.length);
  expect(body.equals(old)).toBe(true);
  await waitFor(() => chunkCount() === 1, "the old chunks to go once their reader is done");
  s3.destroy();
});
