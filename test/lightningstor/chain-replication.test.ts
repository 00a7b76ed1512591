import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { CreateBucketCommand, GetObjectCommand, PutObjectCommand, type S3Client } from "@aws-sdk/client-s3";
import { randomBytes } from "node:crypto";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { encodeFrames, FRAME_HEADER_SIZE } from "../../src/lightningstor/chunks/chain-frames.ts";
import { startController, type TestController } from "../helpers/cluster.ts";
import { run } from "../helpers/nbd-export.ts";
import { authed, startPhoton, tempDir, waitFor, type PhotonProcess } from "../helpers/photon.ts";
import { startGateway, type TestGateway } from "../helpers/s3-gateway.ts";
import { fdPath, readTrace } from "../helpers/strace.ts";

/**
 * Chained replication (`s3-gateway --replication-mode chain`) over three
 * agents, each under strace: the gateway sends each chunk once, to the first
 * node of its placement, which stores it and forwards it to the next. Every
 * node ends with the same copy, each fsynced and renamed into place before
 * that node reports it stored.
 */

const MiB = 1024 * 1024;

interface Node {
  dataDir: string;
  url: string;
  proc: PhotonProcess;
  trace: string;
}

let dir: ReturnType<typeof tempDir>;
let controller: TestController;
const nodes: Node[] = [];
let gw: TestGateway;
let s3: S3Client;

/** A node's chunk files (ids → bytes), temporary files of writes under way excluded. */
function copies(node: Node): Map<string, Buffer> {
  const root = join(node.dataDir, "chunks");
  if (!existsSync(root)) return new Map();
  const files = readdirSync(root, { recursive: true, encoding: "utf8" }).filter((f) => f.includes("/") && !f.endsWith(".tmp"));
  return new Map(files.map((f) => [f.split("/").pop()!, readFileSync(join(root, f))]));
}

/** Sends a chained PUT straight to a node. */
const chainedPut = (node: Node, id: string, chain: string[], body: Uint8Array, token = controller.token) =>
  fetch(`${node.url}/v1/chunks/${id}`, authed(token, { method: "PUT", body, headers: { "x-photon-chain": chain.join(","), "x-photon-chain-progress-ms": "2000" } }));

beforeAll(async () => {
  dir = tempDir("photon-chain-");
  controller = await startController(join(dir.path, "controller"));
  const traced = "trace=fsync,fdatasync,rename,renameat,renameat2,sendto,sendmsg,write,writev";
  for (const name of ["chain1", "chain2", "chain3"]) {
    const dataDir = join(dir.path, name);
    const trace = join(dir.path, `${name}.trace`);
    const proc = startPhoton(["agent", "--data-dir", dataDir, "--listen", "127.0.0.1:0", "--controller", controller.url, "--name", name], {
      env: { PHOTON_TOKEN: controller.token },
      binary: "strace",
      prefix: ["-f", "-qq", "-y", "-s", "200", "-e", traced, "-o", trace],
    });
    nodes.push({ dataDir, proc, trace, url: await proc.url() });
  }
  gw = await startGateway({ token: controller.token, args: ["--storage-nodes", nodes.map((n) => n.url).join(","), "--replication-mode", "chain"] });
  s3 = gw.client();
  await s3.send(new CreateBucketCommand({ Bucket: "chain" }));
});

afterAll(async () => {
  s3.destroy();
  await gw[Symbol.asyncDispose]();
  for (const node of nodes) {
    await run(["pkill", "-TERM", "-P", String(node.proc.proc.pid)]); // the agent strace runs
    await node.proc.exited;
  }
  await controller.proc[Symbol.asyncDispose]();
  dir[Symbol.dispose]();
});

describe("chained replication", () => {
  test("a PUT leaves the same copy on every node, each fsynced and renamed into place before its node reports it", async () => {
    const body = randomBytes(10 * MiB + 12345); // one chunk
    await s3.send(new PutObjectCommand({ Bucket: "chain", Key: "one", Body: body }));
    const got = await s3.send(new GetObjectCommand({ Bucket: "chain", Key: "one" }));
    expect(Buffer.from(await got.Body!.transformToByteArray()).equals(body)).toBe(true);
    // Acknowledged at two copies: the third lands right after.
    const held = await waitFor(() => {
      const all = nodes.map(copies);
      return all.every((c) => c.size === 1) && all;
    }, "a copy on every node");
    const [id, first] = [...held[0]!.entries()][0]!;
    expect(first.subarray(0, body.length).equals(body)).toBe(true);
    for (const c of held) expect(c.get(id)!.equals(first)).toBe(true);
    // Sent once: the first node forwards it to the second, the second to the third.
    const forwarders = nodes.filter((node) => readTrace(node.trace).some((c) => ["sendto", "sendmsg", "write", "writev"].includes(c.name) && c.args.includes(`"PUT /v1/chunks/${id} `)));
    expect(forwarders.length).toBe(2);

    for (const node of nodes) {
      const port = new URL(node.url).port;
      // A node reports its copy in a line of the chain's reply, `{"node":"<its URL>","size":…}`.
      const { rename, fileSync, dirSync, line } = await waitFor(() => {
        const calls = readTrace(node.trace);
        const rename = calls.find((c) => c.name.startsWith("rename") && c.args.includes(`${id}.`) && c.end < Infinity);
        if (!rename) return undefined;
        const fileSync = calls.find((c) => ["fsync", "fdatasync"].includes(c.name) && fdPath(c)?.includes(`${id}.`) && fdPath(c)?.endsWith(".tmp") && c.end < Infinity);
        const dirSync = calls.find((c) => ["fsync", "fdatasync"].includes(c.name) && fdPath(c) === dirname(join(node.dataDir, "chunks", id.slice(0, 2), id)) && c.start > rename.end && c.end < Infinity);
        const line = calls.find((c) => ["sendto", "sendmsg", "write", "writev"].includes(c.name) && c.args.includes(`127.0.0.1:${port}\\",\\"size`));
        return fileSync && dirSync && line && { rename, fileSync, dirSync, line };
      }, `the fsyncs, the rename and the line of ${node.url} in its trace`);
      expect(fileSync.end).toBeLessThan(rename.start);
      expect(dirSync.end).toBeLessThan(line.start);
    }
  });

  test("an object of several chunks, chained at once, reads back identical from copies on every node", async () => {
    const before = nodes.map((n) => copies(n).size);
    const body = randomBytes(40 * MiB + 1); // three chunks in flight together
    await s3.send(new PutObjectCommand({ Bucket: "chain", Key: "three", Body: body }));
    const got = await s3.send(new GetObjectCommand({ Bucket: "chain", Key: "three" }));
    expect(Buffer.from(await got.Body!.transformToByteArray()).equals(body)).toBe(true);
    await waitFor(() => nodes.every((n, i) => copies(n).size === before[i]! + 3), "three more copies on every node");
  });

  test("a chained PUT with a wrong token is refused, and nothing is stored or forwarded", async () => {
    const data = randomBytes(200_000);
    const chain = nodes.map((n) => n.url);
    const response = await chainedPut(nodes[0]!, "dddd000001", chain, Buffer.concat(encodeFrames(data)), "not-the-cluster-token");
    expect(response.status).toBe(401);
    await Bun.sleep(200); // a forwarded copy would be under way by now
    for (const node of nodes) expect(copies(node).has("dddd000001")).toBe(false);
  });

  test("a damaged block is refused by the node that receives it: no node stores it, the one before gets 400", async () => {
    const data = randomBytes(300_000);
    const chain = nodes.map((n) => n.url);
    const wire = Buffer.concat(encodeFrames(data));
    wire[FRAME_HEADER_SIZE * 3 + 2 * 65536 + 7]! ^= 1; // the third block
    const response = await chainedPut(nodes[0]!, "dddd000002", chain, wire);
    expect(response.status).toBe(400);
    expect(await response.text()).toContain("block 2");
    await Bun.sleep(200);
    for (const node of nodes) expect(copies(node).has("dddd000002")).toBe(false);
    // The same bytes, intact, go down the whole chain.
    const ok = await chainedPut(nodes[0]!, "dddd000003", chain, Buffer.concat(encodeFrames(data)));
    expect(ok.status).toBe(200);
    const lines = (await ok.text()).trim().split("\n").map((l) => JSON.parse(l) as { node: string; size?: number });
    expect(lines.map((l) => l.node).sort()).toEqual([...chain].sort());
    expect(lines.every((l) => l.size === data.length)).toBe(true);
    for (const node of nodes) expect(copies(node).get("dddd000003")!.subarray(0, data.length).equals(data)).toBe(true);
  });

  test("a malformed chain is refused before any byte is taken", async () => {
    const frames = Buffer.concat(encodeFrames(randomBytes(1000)));
    for (const chain of [["ftp://x:1"], [nodes[0]!.url, nodes[0]!.url]]) {
      const response = await chainedPut(nodes[0]!, "dddd000004", chain, frames);
      expect(response.status).toBe(400);
    }
    expect(copies(nodes[0]!).has("dddd000004")).toBe(false);
  });
});
