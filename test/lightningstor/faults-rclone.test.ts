import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { CreateBucketCommand } from "@aws-sdk/client-s3";
import { createHash, randomBytes } from "node:crypto";
import { closeSync, createReadStream, mkdirSync, openSync, rmSync, writeSync } from "node:fs";
import { join } from "node:path";
import { chunkIdsOn, everyReferencedChunkHas, failuresOf, referencedChunks, startMemberCluster, type MemberCluster, type MemberNode } from "../helpers/member-cluster.ts";
import { tempDir, waitFor } from "../helpers/photon.ts";
import { rclone } from "../helpers/rclone.ts";

/**
 * rclone (Go's S3 client) against a cluster as operators run it: a controller,
 * four agents with the storage role and a gateway following them (R = 3,
 * W = 2). A 300 MiB file — above rclone's 200 MiB upload cutoff, so 60
 * UploadParts four at a time — is copied while one storage node is hung
 * (SIGSTOP) or killed (SIGKILL) mid-transfer; the killed node then stays away
 * past its grace and every chunk gets its three copies back.
 */

const MiB = 1024 * 1024;
const GRACE_MS = 1500;
const dir = tempDir("photon-faults-rclone-");
let cluster: MemberCluster;

/** A directory holding one file of `size` random bytes; its path and the file's SHA-256. */
function randomTree(name: string, size: number): { path: string; file: string; sha256: string } {
  const path = join(dir.path, name);
  mkdirSync(path);
  const file = join(path, "big.bin");
  const hash = createHash("sha256");
  const fd = openSync(file, "w");
  for (let written = 0; written < size; written += 16 * MiB) {
    const piece = randomBytes(Math.min(16 * MiB, size - written));
    hash.update(piece);
    writeSync(fd, piece);
  }
  closeSync(fd);
  return { path, file, sha256: hash.digest("hex") };
}

async function sha256File(file: string): Promise<string> {
  const hash = createHash("sha256");
  for await (const piece of createReadStream(file)) hash.update(piece as Buffer);
  return hash.digest("hex");
}

const ph = (args: string[]) => rclone(cluster.gateway, dir.path, args);

/** UploadParts of `key` the gateway has answered 200 (its access log). */
const partsStored = (key: string) => cluster.gateway.proc.lines.filter((l) => l.msg === "s3 request" && l.method === "PUT" && l.path === `/faults/${key}` && l.status === 200).length;

/**
 * `rclone copy` of a 300 MiB tree to `prefix`, with `fault` done to a node
 * once three parts are stored; then `rclone check` and a download compared
 * byte for byte, both while the fault lasts.
 */
async function copyThrough(prefix: string, faulty: MemberNode, fault: () => void): Promise<void> {
  const tree = randomTree(prefix, 300 * MiB);
  const copy = ph(["copy", tree.path, `ph:faults/${prefix}`]);
  await waitFor(() => partsStored(`${prefix}/big.bin`) >= 3, "three parts stored", 120_000);
  fault();
  const copied = await copy;
  expect({ code: copied.code, stderr: copied.stderr }).toEqual({ code: 0, stderr: "" });
  expect(partsStored(`${prefix}/big.bin`)).toBeGreaterThanOrEqual(60);
  // The fault met the transfer: the gateway counts calls to the node that failed (a copy or a
  // probe to a hung node fails at its deadline, which a fast copy may finish before).
  await waitFor(async () => (await failuresOf(cluster, faulty)) > 0, "failed calls to the faulty node counted", 60_000);

  const check = await ph(["check", tree.path, `ph:faults/${prefix}`]);
  expect({ code: check.code, stderr: check.stderr }).toMatchObject({ code: 0 });
  expect(check.stderr).toContain("0 differences found");
  const out = join(dir.path, `${prefix}-out`);
  const download = await ph(["copy", `ph:faults/${prefix}`, out]);
  expect({ code: download.code, stderr: download.stderr }).toEqual({ code: 0, stderr: "" });
  expect(await sha256File(join(out, "big.bin"))).toBe(tree.sha256);
  rmSync(out, { recursive: true });
  rmSync(tree.path, { recursive: true });
}

const node = (name: string): MemberNode => cluster.nodes.find((n) => n.name === name)!;

beforeAll(async () => {
  cluster = await startMemberCluster(dir.path, { gatewayArgs: ["--node-grace", String(GRACE_MS)] });
  await cluster.gateway.s3.send(new CreateBucketCommand({ Bucket: "faults" }));
});

afterAll(async () => {
  await cluster?.stop();
  dir[Symbol.dispose]();
});

describe("rclone against a cluster with a failing storage node", () => {
  test("a node hung by SIGSTOP mid-transfer: rclone's multipart copy exits 0, rclone check and a download are identical while it hangs; resumed, it is used again", async () => {
    const hung = node("node3");
    try {
      await copyThrough("hung", hung, () => process.kill(hung.proc.proc.pid, "SIGSTOP"));
    } finally {
      process.kill(hung.proc.proc.pid, "SIGCONT");
    }
    await waitFor(async () => (await cluster.repairStatus()).nodes.find((n) => n.name === hung.name)?.state === "up", "the resumed node up again", 30_000);
    // Once back, it holds a copy of each chunk placed on it, and nothing is short of three copies.
    await waitFor(async () => (await cluster.repairStatus()).underReplicated === 0, "nothing under-replicated", 120_000);
  }, 600_000);

  test("a node killed by SIGKILL mid-transfer: rclone's multipart copy exits 0, rclone check and a download are identical", async () => {
    const killed = node("node2");
    await copyThrough("killed", killed, () => process.kill(killed.proc.proc.pid, "SIGKILL"));
  }, 600_000);

  test("the killed node stays away past its grace: repair status reaches 0 under-replicated and every chunk has a copy on each of the three others", async () => {
    const lost = node("node2");
    const live = cluster.nodes.filter((n) => n !== lost);
    await waitFor(async () => (await cluster.repairStatus()).nodes.find((n) => n.name === "node2")?.state === "lost", "node2 lost past its grace");
    await waitFor(async () => (await cluster.repairStatus()).underReplicated === 0, "nothing under-replicated", 300_000);
    await waitFor(() => everyReferencedChunkHas(cluster, live), "a copy of every chunk on each live node", 300_000);
    // Both 300 MiB objects, in 5 MiB parts: 120 chunks, each with three copies.
    const referenced = referencedChunks(cluster.gatewayDir);
    expect(referenced.size).toBe(120);
    // The lost node had its share of them: those copies were made again.
    expect(chunkIdsOn(lost).filter((id) => referenced.has(id)).length).toBeGreaterThan(10);
  }, 600_000);
});
