import { afterEach, expect, test } from "bun:test";
import { CreateBucketCommand, GetObjectCommand, PutObjectCommand } from "@aws-sdk/client-s3";
import { randomBytes } from "node:crypto";
import { closeSync, existsSync, openSync, readdirSync, readFileSync, statSync, writeSync } from "node:fs";
import { join } from "node:path";
import { placement } from "../../src/lightningstor/chunks/placement.ts";
import { tempDir, waitFor, type LogLine } from "../helpers/photon.ts";
import { chunkIdsOn, startMemberCluster, type MemberCluster, type MemberNode } from "../helpers/member-cluster.ts";

/**
 * A repair streams each chunk from a copy on one node, through the gateway,
 * to the node that lacks it, every 64 KiB block checked on the way: a damaged
 * block or a source that hangs mid-chunk hands over to another copy at the
 * byte it got to, and the new copy is intact. R = 3 over four agents; one is
 * killed for good, and its chunk's copy is made again on the fourth.
 */

const MiB = 1024 * 1024;
const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

const urlOf = (node: MemberNode) => `http://127.0.0.1:${node.port}`;
const chunkPath = (node: MemberNode, id: string) => join(node.dataDir, "chunks", id.slice(0, 2), id);
/** The data of a node's copy (the file is the data, then its checksums). */
const copyData = (node: MemberNode, id: string, size: number) => readFileSync(chunkPath(node, id)).subarray(0, size);

/**
 * A cluster holding one object of `size` bytes in one chunk, and the roles its
 * nodes take in the repair to come: `lost` holds a copy and is to be killed,
 * `dest` holds none and gets the new copy, `source` is the holder the repair
 * reads first (the gateway reads in placement order), `other` the last holder.
 */
async function oneChunkCluster(size: number) {
  const dir = tempDir("photon-stream-repair-");
  cleanups.push(() => dir[Symbol.dispose]());
  const cluster: MemberCluster = await startMemberCluster(dir.path, { gatewayArgs: ["--node-grace", "1000"] });
  cleanups.push(() => cluster.stop());
  const s3 = cluster.gateway.s3;
  await s3.send(new CreateBucketCommand({ Bucket: "repairs" }));
  const body = randomBytes(size);
  await s3.send(new PutObjectCommand({ Bucket: "repairs", Key: "k", Body: body }));
  const holdersOf = (id: string) => cluster.nodes.filter((n) => chunkIdsOn(n).includes(id));
  const id = await waitFor(() => cluster.nodes.flatMap(chunkIdsOn).find((c) => holdersOf(c).length === 3), "the chunk's three copies");
  const holders = holdersOf(id);
  const [lost, ...survivors] = holders;
  const dest = cluster.nodes.find((n) => !holders.includes(n))!;
  const live = cluster.nodes.filter((n) => n !== lost);
  const order = placement(live.map(urlOf), id).filter((url) => url !== urlOf(dest));
  const [source, other] = order.map((url) => survivors.find((n) => urlOf(n) === url)!);
  return { cluster, body, id, lost: lost!, dest, source: source!, other: other! };
}

/** Flips 16 bytes of a node's copy at `offset`. */
function damage(node: MemberNode, id: string, offset: number): void {
  const file = chunkPath(node, id);
  const fd = openSync(file, "r+");
  writeSync(fd, Buffer.from(readFileSync(file).subarray(offset, offset + 16).map((b) => b ^ 0xff)), 0, 16, offset);
  closeSync(fd);
}

/** The gateway's warning about `node` and the chunk. */
const warned = (cluster: MemberCluster, msg: string, node: MemberNode, id: string) => (line: LogLine) => line.msg === msg && line.node === urlOf(node) && line.chunk === id;

/** How many times the gateway could not read a chunk through (`photon_chunk_failures_total{kind="unreadable"}`). */
async function unreadableRounds(cluster: MemberCluster): Promise<number> {
  const text = await (await fetch(`${cluster.gateway.admin}/metrics`, { headers: { authorization: `Bearer ${cluster.controller.token}` } })).text();
  const line = text.split("\n").find((l) => l.startsWith('photon_chunk_failures_total{kind="unreadable"'));
  return Number(line?.split(" ").pop() ?? 0);
}

async function getObject(cluster: MemberCluster): Promise<Buffer> {
  const out = await cluster.gateway.s3.send(new GetObjectCommand({ Bucket: "repairs", Key: "k" }));
  return Buffer.from(await out.Body!.transformToByteArray());
}

test("a repair whose first source has a damaged block switches copies mid-chunk: the new copy is intact, and the damaged one is rewritten", async () => {
  const { cluster, body, id, lost, dest, source, other } = await oneChunkCluster(4 * MiB);
  damage(source, id, 1_000_000);
  await lost.proc.stop("SIGKILL");
  await waitFor(() => chunkIdsOn(dest).includes(id), "the lost node's copy to be made again on the fourth node", 60_000);
  expect(copyData(dest, id, body.length).equals(body)).toBe(true);
  // The read met the damaged block of the first source, then took the rest from the other copy.
  await cluster.gateway.proc.waitForLog(warned(cluster, "a block of a chunk copy does not match its checksum; reading the rest from another copy", source, id), "the damaged block found");
  await waitFor(() => copyData(source, id, body.length).equals(body), "the damaged copy to be rewritten");
  expect(copyData(other, id, body.length).equals(body)).toBe(true);
  // The node has the file before the gateway has its answer: wait for both lines.
  const repaired = () => cluster.gateway.proc.lines.filter((l) => l.msg === "repaired a chunk copy" && l.chunk === id).map((l) => String(l.node));
  await waitFor(() => repaired().length === 2, "both copies logged as repaired");
  expect(repaired().sort()).toEqual([urlOf(dest), urlOf(source)].sort());
  expect((await getObject(cluster)).equals(body)).toBe(true);
}, 120_000);

test("a repair whose source is stopped (SIGSTOP) mid-chunk finishes from the other copy, never leaving a wrong one", async () => {
  const size = 16 * MiB;
  const { cluster, body, id, lost, dest, source, other } = await oneChunkCluster(size);
  const subdir = join(dest.dataDir, "chunks", id.slice(0, 2));
  // Bytes of the chunk already written on the destination, while its copy is under way.
  const arriving = () => {
    if (!existsSync(subdir)) return 0;
    const tmp = readdirSync(subdir).find((f) => f.startsWith(`${id}.`) && f.endsWith(".tmp"));
    return tmp ? (statSync(join(subdir, tmp), { throwIfNoEntry: false })?.size ?? 0) : 0;
  };
  await lost.proc.stop("SIGKILL");
  const deadline = Date.now() + 60_000;
  while (arriving() === 0 && Date.now() < deadline) await Bun.sleep(1);
  process.kill(source.proc.proc.pid, "SIGSTOP");
  const stoppedAt = arriving();
  expect(stoppedAt).toBeGreaterThan(0);
  expect(stoppedAt).toBeLessThan(size);
  await cluster.gateway.proc.waitForLog(warned(cluster, "a storage node broke off sending a copy; reading the rest from another", source, id), "the stopped source to be passed over mid-chunk");
  await waitFor(() => chunkIdsOn(dest).includes(id), "the copy to be finished from the other source", 60_000);
  expect(copyData(dest, id, size).equals(body)).toBe(true);
  process.kill(source.proc.proc.pid, "SIGCONT");
  for (const node of [source, other]) expect(copyData(node, id, size).equals(body)).toBe(true);
  expect((await getObject(cluster)).equals(body)).toBe(true);
}, 120_000);

test("a repair with no intact copy to read from leaves no copy on the new node, keeps the damaged ones and stays queued", async () => {
  const { cluster, body, id, lost, dest, source, other } = await oneChunkCluster(MiB);
  // The same block damaged on both copies left: no source has it intact.
  for (const node of [source, other]) damage(node, id, 300_000);
  await lost.proc.stop("SIGKILL");
  await cluster.gateway.proc.waitForLog((l) => l.msg === "could not read a chunk through to copy it; trying again later" && l.chunk === id, "the repair to fail to read the chunk through");
  // Upkeep tries again every second, now knowing both copies damaged: three more rounds.
  await waitFor(async () => (await unreadableRounds(cluster)) >= 4, "more repair rounds");
  expect((await cluster.repairStatus()).queued).toBeGreaterThanOrEqual(1);
  expect(chunkIdsOn(dest)).not.toContain(id);
  // The damaged copies hold every other block intact: they are not deleted.
  for (const node of [source, other]) expect(copyData(node, id, body.length).subarray(0, 300_000).equals(body.subarray(0, 300_000))).toBe(true);
}, 120_000);
