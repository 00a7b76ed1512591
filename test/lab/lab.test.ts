import { expect, test } from "bun:test";
import { CreateBucketCommand, GetObjectCommand, ListBucketsCommand, PutObjectCommand, S3Client } from "@aws-sdk/client-s3";
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { NbdClient } from "../../src/coronafs/nbd/client.ts";
import { runPhoton, startPhoton, tempDir, waitFor } from "../helpers/photon.ts";

/**
 * A block of 20 ports that were free a moment ago, below Linux's ephemeral
 * range (32768+) so that no outgoing connection of this machine can take one.
 */
function freeBase(): number {
  for (;;) {
    const base = 20_000 + Math.floor(Math.random() * 12_000);
    const probes = [];
    try {
      for (let port = base; port < base + 20; port++) probes.push(Bun.listen({ hostname: "127.0.0.1", port, socket: { data() {} } }));
      return base;
    } catch {
      // taken: try another block
    } finally {
      for (const probe of probes) probe.stop(true);
    }
  }
}

/** The lab's children's log files, for a failure message. */
function childLogs(labDir: string): string {
  const files = readdirSync(labDir, { recursive: true, encoding: "utf8" }).filter((f) => f.endsWith(".log"));
  return files.map((f) => `--- ${f}\n${readFileSync(join(labDir, f), "utf8").slice(-2000)}`).join("\n");
}

test("lab up runs every server mode, registers the nodes, serves volumes and S3; lab status shows it and lab down stops it cleanly", async () => {
  using dir = tempDir("photon-lab-");
  const base = freeBase();
  const nbdPort = base + 5;
  const s3Port = base + 6;
  await using lab = startPhoton(["lab", "up", "--dir", dir.path, "--nodes", "2", "--base-port", String(base), "--nbd-port", String(nbdPort), "--s3-port", String(s3Port)]);
  await lab.waitForLog((l) => l.msg === "started" && l.node === "node02", "node02 started").catch((err: Error) => {
    throw new Error(`${err.message}\n${childLogs(dir.path)}`);
  });
  const token = readFileSync(join(dir.path, "node01", "cluster-token"), "utf8").trim();
  const env = { PHOTON_TOKEN: token };
  await waitFor(async () => {
    const out = await runPhoton(["node", "list", "--json", "--server", `http://127.0.0.1:${base}`], { env });
    const nodes = JSON.parse(out.stdout) as { name: string; state: string }[];
    return nodes.filter((n) => n.state === "up").length === 2;
  }, "two nodes up");
  const created = await runPhoton(["volume", "create", "labvol", "--size", "4M", "--server", `http://127.0.0.1:${base + 2}`], { env });
  expect(created.code).toBe(0);
  const client = await NbdClient.connect({ uri: `nbd://127.0.0.1:${nbdPort}/labvol` });
  expect(client.size).toBe(4 * 1024 * 1024);
  await client.write(0, Buffer.alloc(4096, 0x5a));
  await client.flush();
  await client.close();
  // Materialized onto node02 (its agent, base+12) and served there on a unix socket.
  const local = await runPhoton(["volume", "create", "labvol", "--from", `nbd://127.0.0.1:${nbdPort}/labvol`, "--json", "--server", `http://127.0.0.1:${base + 12}`], { env });
  expect(local.stderr).toBe("");
  const unixUri = (JSON.parse(local.stdout) as { uris: { unix: string } }).uris.unix;
  expect(unixUri).toContain(join(dir.path, "node02"));
  const onNode02 = await NbdClient.connect({ uri: unixUri });
  expect((await onNode02.read(0, 4096)).equals(Buffer.alloc(4096, 0x5a))).toBe(true);
  await onNode02.close();
  // The S3 gateway answers with the root key written into node01's data dir.
  const rootKey = readFileSync(join(dir.path, "node01", "root-key"), "utf8");
  const credentials = {
    accessKeyId: /AWS_ACCESS_KEY_ID=(.+)/.exec(rootKey)![1]!,
    secretAccessKey: /AWS_SECRET_ACCESS_KEY=(.+)/.exec(rootKey)![1]!,
  };
  const s3 = new S3Client({ endpoint: `http://127.0.0.1:${s3Port}`, region: "us-east-1", forcePathStyle: true, credentials });
  await s3.send(new CreateBucketCommand({ Bucket: "lab-bucket" }));
  expect((await s3.send(new ListBucketsCommand({}))).Buckets?.map((b) => b.Name)).toEqual(["lab-bucket"]);
  // Its chunks go to both nodes' agents (two nodes: two copies), none to the gateway's own dir.
  const body = Buffer.from("lab object ".repeat(1000));
  await s3.send(new PutObjectCommand({ Bucket: "lab-bucket", Key: "hello", Body: body }));
  const read = await s3.send(new GetObjectCommand({ Bucket: "lab-bucket", Key: "hello" }));
  expect(Buffer.from(await read.Body!.transformToByteArray()).equals(body)).toBe(true);
  const agentChunks = (node: string) => readdirSync(join(dir.path, node, "chunks"), { recursive: true, encoding: "utf8" }).filter((f) => f.includes("/"));
  expect(agentChunks("node01")).toHaveLength(1);
  expect(agentChunks("node02")).toEqual(agentChunks("node01"));
  s3.destroy();
  // lab status: every endpoint answers; a second lab in the same dir is refused.
  const status = await runPhoton(["lab", "status", "--dir", dir.path, "--json"]);
  expect(status.code).toBe(0);
  const endpoints = (JSON.parse(status.stdout) as { endpoints: { service: string; up: boolean }[] }).endpoints;
  expect(endpoints).toHaveLength(7);
  expect(endpoints.filter((e) => !e.up)).toEqual([]);
  const second = await runPhoton(["lab", "up", "--dir", dir.path, "--base-port", String(base)]);
  expect(second.code).not.toBe(0);
  expect(second.stderr).toContain("already running");
  // lab down stops it the way Ctrl-C does; then there is nothing to show.
  expect((await runPhoton(["lab", "down", "--dir", dir.path])).code).toBe(0);
  expect(await lab.exited).toBe(0);
  expect(lab.lines.filter((l) => l.msg === "stopped" && l.code === 0)).toHaveLength(5);
  const after = await runPhoton(["lab", "status", "--dir", dir.path]);
  expect(after.code).not.toBe(0);
  expect(after.stderr).toContain("no lab is running");
});
