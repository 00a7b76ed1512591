import { afterAll, beforeAll, expect, test } from "bun:test";
import {
  CompleteMultipartUploadCommand,
  CopyObjectCommand,
  CreateBucketCommand,
  CreateMultipartUploadCommand,
  GetObjectCommand,
  HeadObjectCommand,
  PutObjectCommand,
  UploadPartCopyCommand,
} from "@aws-sdk/client-s3";
import { randomBytes } from "node:crypto";
import { closeSync, openSync, readFileSync, writeSync } from "node:fs";
import { join } from "node:path";
import { placement } from "../../src/lightningstor/chunks/placement.ts";
import { tempDir, waitFor } from "../helpers/photon.ts";
import { s3Error } from "../helpers/s3-gateway.ts";
import { nodeChunkFiles, startNodeGateway, startStorageNodes, type NodeGateway } from "../helpers/storage-nodes.ts";

/**
 * A damaged copy over three storage nodes: the SDK, CopyObject and
 * UploadPartCopy read from an intact copy; with every copy damaged at the
 * same block they fail, and nothing of them becomes visible.
 */

const MiB = 1024 * 1024;
const dir = tempDir("photon-damaged-sources-");
const credentials = { accessKeyId: "PHTESTKEY0000000000D", secretAccessKey: "damaged-secret-" + crypto.randomUUID() };
let cluster: Awaited<ReturnType<typeof startStorageNodes>>;
let gw: NodeGateway;

beforeAll(async () => {
  cluster = await startStorageNodes(dir.path);
  gw = await startNodeGateway(cluster.controller, cluster.nodes, join(dir.path, "gateway"), credentials);
  await gw.s3.send(new CreateBucketCommand({ Bucket: "src" }));
});

afterAll(async () => {
  gw.s3.destroy();
  await gw.proc[Symbol.asyncDispose]();
  await cluster.stop();
  dir[Symbol.dispose]();
});

/** Puts a one-chunk object and returns its body and its copies' files in placement order. */
async function putOneChunk(key: string, size: number): Promise<{ body: Buffer; copies: string[] }> {
  const before = new Set(cluster.nodes.flatMap(nodeChunkFiles));
  const body = randomBytes(size);
  await gw.s3.send(new PutObjectCommand({ Bucket: "src", Key: key, Body: body }));
  const fresh = () => cluster.nodes.flatMap(nodeChunkFiles).filter((f) => !before.has(f));
  await waitFor(() => fresh().length === 3, "three copies");
  const id = fresh()[0]!.split("/").pop()!;
  const order = placement(
    cluster.nodes.map((n) => n.url),
    id,
  );
  const copies = order.map((url) => fresh().find((f) => f.startsWith(cluster.nodes.find((n) => n.url === url)!.dataDir + "/"))!);
  return { body, copies };
}

/** Flips 16 bytes of a file at `offset`. */
function flip(file: string, offset: number): void {
  const fd = openSync(file, "r+");
  writeSync(fd, Buffer.from(readFileSync(file).subarray(offset, offset + 16).map((b) => b ^ 0xff)), 0, 16, offset);
  closeSync(fd);
}

async function read(key: string): Promise<Buffer> {
  const out = await gw.s3.send(new GetObjectCommand({ Bucket: "src", Key: key }));
  return Buffer.from(await out.Body!.transformToByteArray());
}

test("with the first-placed copy damaged mid-chunk, the SDK, CopyObject and UploadPartCopy get the right bytes", async () => {
  const { body, copies } = await putOneChunk("first-damaged", 4 * MiB);
  flip(copies[0]!, 1_000_000);
  expect((await read("first-damaged")).equals(body)).toBe(true);
  // The read rewrites the damaged copy; damage it again for the copies below.
  await waitFor(() => readFileSync(copies[0]!).subarray(0, body.length).equals(body), "the damaged copy to be rewritten");
  flip(copies[0]!, 1_000_000);
  await gw.s3.send(new CopyObjectCommand({ Bucket: "src", Key: "copied", CopySource: "src/first-damaged" }));
  expect((await read("copied")).equals(body)).toBe(true);
  await waitFor(() => readFileSync(copies[0]!).subarray(0, body.length).equals(body), "the damaged copy to be rewritten");
  flip(copies[0]!, 1_000_000);
  const { UploadId } = await gw.s3.send(new CreateMultipartUploadCommand({ Bucket: "src", Key: "part-copied" }));
  const part = await gw.s3.send(new UploadPartCopyCommand({ Bucket: "src", Key: "part-copied", UploadId, PartNumber: 1, CopySource: "src/first-damaged", CopySourceRange: "bytes=500000-1499999" }));
  await gw.s3.send(new CompleteMultipartUploadCommand({ Bucket: "src", Key: "part-copied", UploadId, MultipartUpload: { Parts: [{ PartNumber: 1, ETag: part.CopyPartResult!.ETag }] } }));
  expect((await read("part-copied")).equals(body.subarray(500_000, 1_500_000))).toBe(true);
  // The copy is rewritten in the background: let it land before the next test counts new files.
  await waitFor(() => readFileSync(copies[0]!).subarray(0, body.length).equals(body), "the damaged copy to be rewritten");
}, 60_000);

test("with every copy damaged at the same block, GET fails and CopyObject copies nothing", async () => {
  const { copies } = await putOneChunk("all-damaged", MiB);
  for (const copy of copies) flip(copy, 300_000);
  expect(await read("all-damaged").catch((err: unknown) => err)).toBeInstanceOf(Error);
  expect(await s3Error(gw.s3.send(new CopyObjectCommand({ Bucket: "src", Key: "copy-of-damaged", CopySource: "src/all-damaged" })))).toMatchObject({ status: 500 });
  expect(await s3Error(gw.s3.send(new HeadObjectCommand({ Bucket: "src", Key: "copy-of-damaged" })))).toEqual({ name: "NotFound", status: 404 });
}, 60_000);
