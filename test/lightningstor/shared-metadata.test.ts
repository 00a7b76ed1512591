import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { CompleteMultipartUploadCommand, CreateBucketCommand, DeleteBucketCommand, CreateMultipartUploadCommand, DeleteObjectCommand, GetObjectCommand, ListObjectsV2Command, PutObjectCommand, S3Client, UploadPartCommand } from "@aws-sdk/client-s3";
import { createHash, randomBytes } from "node:crypto";
import { copyFileSync, mkdirSync } from "node:fs";
import { join } from "node:path";
import { PassThrough } from "node:stream";
import { CHUNK_SIZE } from "../../src/lightningstor/s3/context.ts";
import { secretsKeyFile } from "../../src/lightningstor/metadata.ts";
import { startAgent, startController, type TestController } from "../helpers/cluster.ts";
import { tempDir, waitFor, type PhotonProcess } from "../helpers/photon.ts";
import { startPostgres, type TestPostgres } from "../helpers/postgres.ts";
import { s3Error, startGateway, type TestGateway } from "../helpers/s3-gateway.ts";

/**
 * Two s3-gateways on one PostgreSQL database and the same three storage
 * nodes (agents): one namespace, whichever gateway a client talks to. All of
 * it the compiled binary, a real PostgreSQL server and the AWS SDK.
 */

const sha256 = (data: Uint8Array) => createHash("sha256").update(data).digest("hex");
const BUCKET = "shared";

let dir: ReturnType<typeof tempDir>;
let pg: TestPostgres;
let controller: TestController;
const agents: PhotonProcess[] = [];
let gatewayArgs: string[];
let a: TestGateway;
let b: TestGateway;
let s3a: S3Client;
let s3b: S3Client;

/** A second gateway on the same database: it needs the first one's secrets key to open the keys stored there (and keeps its root key). */
function startSecondGateway(first: TestGateway): Promise<TestGateway> {
  return startGateway({
    token: controller.token,
    args: gatewayArgs,
    credentials: first.credentials,
    prepare: (dataDir) => {
      mkdirSync(dataDir, { recursive: true });
      copyFileSync(join(first.dataDir, secretsKeyFile), join(dataDir, secretsKeyFile));
    },
  });
}

async function body(s3: S3Client, key: string): Promise<Uint8Array> {
  const out = await s3.send(new GetObjectCommand({ Bucket: BUCKET, Key: key }));
  return out.Body!.transformToByteArray();
}

beforeAll(async () => {
  dir = tempDir("photon-shared-");
  pg = startPostgres();
  controller = await startController(join(dir.path, "controller"));
  const nodes: string[] = [];
  for (const name of ["store1", "store2", "store3"]) {
    const agent = await startAgent(controller, join(dir.path, name), name);
    agents.push(agent);
    nodes.push(await agent.url());
  }
  // Garbage collected every second (debug logs each round), so a round meets any write under way.
  gatewayArgs = ["--metadata", await pg.createDatabase(), "--storage-nodes", nodes.join(","), "--gc-every", "1", "--log-level", "debug"];
  a = await startGateway({ token: controller.token, args: gatewayArgs });
  b = await startSecondGateway(a);
  s3a = a.client();
  s3b = b.client();
  await s3a.send(new CreateBucketCommand({ Bucket: BUCKET }));
});

afterAll(async () => {
  s3a.destroy();
  s3b.destroy();
  for (const gw of [a, b]) await gw?.[Symbol.asyncDispose]();
  for (const agent of agents) await agent[Symbol.asyncDispose]();
  await controller?.proc[Symbol.asyncDispose]();
  pg?.stop();
  dir[Symbol.dispose]();
});

describe("two gateways, one namespace (PostgreSQL metadata)", () => {
  test("a bucket and an object made through one gateway are listed and read through the other, and a delete through it is seen by the first", async () => {
    const data = randomBytes(100_000);
    await s3a.send(new PutObjectCommand({ Bucket: BUCKET, Key: "hello/a.bin", Body: data, ContentType: "application/x-test" }));
    expect(sha256(await body(s3b, "hello/a.bin"))).toBe(sha256(data));
    const listed = await s3b.send(new ListObjectsV2Command({ Bucket: BUCKET, Prefix: "hello/" }));
    expect(listed.Contents?.map((o) => o.Key)).toEqual(["hello/a.bin"]);
    await s3b.send(new DeleteObjectCommand({ Bucket: BUCKET, Key: "hello/a.bin" }));
    expect(await s3Error(s3a.send(new GetObjectCommand({ Bucket: BUCKET, Key: "hello/a.bin" })))).toEqual({ name: "NoSuchKey", status: 404 });
  });

  test("concurrent If-None-Match: * PUTs of one key through both gateways: exactly one wins, and both serve the winner", async () => {
    const bodies = Array.from({ length: 8 }, () => randomBytes(20_000));
    const results = await Promise.allSettled(
      bodies.map((data, i) => (i % 2 === 0 ? s3a : s3b).send(new PutObjectCommand({ Bucket: BUCKET, Key: "race", Body: data, IfNoneMatch: "*" }))),
    );
    const won = results.flatMap((r, i) => (r.status === "fulfilled" ? [i] : []));
    expect(won.length).toBe(1);
    for (const r of results) if (r.status === "rejected") expect((r.reason as { $metadata: { httpStatusCode: number } }).$metadata.httpStatusCode).toBe(412);
    const winner = sha256(bodies[won[0]!]!);
    expect([sha256(await body(s3a, "race")), sha256(await body(s3b, "race"))]).toEqual([winner, winner]);
  });

  test("a part uploaded through one gateway and replaced through the other: the completed object has the replacement", async () => {
    const { UploadId } = await s3a.send(new CreateMultipartUploadCommand({ Bucket: BUCKET, Key: "multi" }));
    const [first, replacement, last] = [randomBytes(5 * 1024 * 1024), randomBytes(5 * 1024 * 1024), randomBytes(1000)];
    await s3a.send(new UploadPartCommand({ Bucket: BUCKET, Key: "multi", UploadId, PartNumber: 1, Body: first }));
    const one = await s3b.send(new UploadPartCommand({ Bucket: BUCKET, Key: "multi", UploadId, PartNumber: 1, Body: replacement }));
    const two = await s3a.send(new UploadPartCommand({ Bucket: BUCKET, Key: "multi", UploadId, PartNumber: 2, Body: last }));
    await s3b.send(
      new CompleteMultipartUploadCommand({ Bucket: BUCKET, Key: "multi", UploadId, MultipartUpload: { Parts: [{ PartNumber: 1, ETag: one.ETag }, { PartNumber: 2, ETag: two.ETag }] } }),
    );
    expect(sha256(await body(s3a, "multi"))).toBe(sha256(Buffer.concat([replacement, last])));
  });

  test("a bucket with an upload in progress through one gateway is not deleted through the other (BucketNotEmpty), and the upload completes", async () => {
    await s3b.send(new CreateBucketCommand({ Bucket: "busy" }));
    const { UploadId } = await s3b.send(new CreateMultipartUploadCommand({ Bucket: "busy", Key: "k" }));
    expect(await s3Error(s3a.send(new DeleteBucketCommand({ Bucket: "busy" })))).toEqual({ name: "BucketNotEmpty", status: 409 });
    const part = await s3b.send(new UploadPartCommand({ Bucket: "busy", Key: "k", UploadId, PartNumber: 1, Body: "data" }));
    await s3b.send(new CompleteMultipartUploadCommand({ Bucket: "busy", Key: "k", UploadId, MultipartUpload: { Parts: [{ PartNumber: 1, ETag: part.ETag }] } }));
    const out = await s3a.send(new GetObjectCommand({ Bucket: "busy", Key: "k" }));
    expect(await out.Body!.transformToString()).toBe("data");
  });

  test("both gateways carry one gateway id, and the upkeep holder's collection keeps the chunks of a PUT still streaming through the other", async () => {
    const ids = await Promise.all([a, b].map(async (gw) => (await gw.proc.waitForLog((l) => l.msg === "chunks are replicated", "the replication line")).gateway));
    expect(ids[0]).toBeString();
    expect(ids[1]).toBe(ids[0]);
    const holding = (gw: TestGateway) => gw.proc.lines.some((l) => l.msg.startsWith("this gateway runs the chunk upkeep"));
    await waitFor(() => holding(a) || holding(b), "an upkeep lease holder");
    const [holder, writerS3] = holding(a) ? [a, s3b] : [b, s3a];

    // A first chunk goes to the storage nodes, then the body stalls while the holder collects.
    const data = randomBytes(CHUNK_SIZE + 100_000);
    const stream = new PassThrough();
    stream.write(data.subarray(0, CHUNK_SIZE + 50_000));
    const put = writerS3.send(new PutObjectCommand({ Bucket: BUCKET, Key: "streaming", Body: stream, ContentLength: data.length }));
    const seen = holder.proc.lines.length;
    const rounds = () => holder.proc.lines.slice(seen).filter((l) => l.msg === "garbage collection round") as unknown as { removed: number; young: number }[];
    // Three rounds (a second apart, older than --gc-every) that saw the streaming chunk's three copies unreferenced and kept them.
    await waitFor(() => rounds().filter((r) => r.young >= 3).length >= 3, "three collection rounds keeping the streaming chunk", 60_000);
    expect(rounds().reduce((n, r) => n + r.removed, 0)).toBe(0);
    stream.end(data.subarray(CHUNK_SIZE + 50_000));
    await put;
    for (const s3 of [s3a, s3b]) expect(sha256(await body(s3, "streaming"))).toBe(sha256(data));
  }, 90_000);

  test("exactly one gateway runs the chunk upkeep; when it is killed (-9) mid-upload the other serves everything acknowledged and takes the upkeep over", async () => {
    const holders = () => [a, b].filter((gw) => gw.proc.lines.some((l) => l.msg.startsWith("this gateway runs the chunk upkeep")));
    expect((await waitFor(() => holders().length === 1 && holders(), "an upkeep lease holder")).length).toBe(1);
    const [holder] = holders();
    const [victim, survivor, victimS3, survivorS3] = holder === a ? [a, b, s3a, s3b] : [b, a, s3b, s3a];

    const acknowledged = new Map<string, string>();
    let failed = 0;
    const writes = Array.from({ length: 40 }, async (_, i) => {
      const data = randomBytes(50_000 + i);
      try {
        await victimS3.send(new PutObjectCommand({ Bucket: BUCKET, Key: `kill/${i}`, Body: data }));
        acknowledged.set(`kill/${i}`, sha256(data));
      } catch {
        failed++;
      }
    });
    await waitFor(() => acknowledged.size >= 5, "a few acknowledged PUTs");
    victim.proc.proc.kill("SIGKILL");
    await Promise.all(writes);
    expect(acknowledged.size).toBeGreaterThanOrEqual(5);
    expect(acknowledged.size + failed).toBe(40);
    for (const [key, digest] of acknowledged) expect(sha256(await body(survivorS3, key))).toBe(digest);

    // The lease runs out (15 s) and the survivor takes the upkeep over.
    await survivor.proc.waitForLog((l) => l.msg.startsWith("this gateway runs the chunk upkeep"), "the survivor taking the upkeep lease");
  }, 90_000);
});
