import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { CreateBucketCommand, GetObjectCommand, PutObjectCommand } from "@aws-sdk/client-s3";
import { randomBytes } from "node:crypto";
import { startController } from "../helpers/cluster.ts";
import { chunkIdsOn, everyReferencedChunkHas, startMemberCluster, type MemberCluster } from "../helpers/member-cluster.ts";
import { runPhoton, tempDir, waitFor } from "../helpers/photon.ts";

/**
 * Membership changes while clients write, on a cluster as operators run it
 * (a controller, four agents with the storage role, a gateway following them,
 * R = 3, W = 2): a node drained while PUTs stream is emptied all the same,
 * PUTs placed on it before the gateway heard of the drain included; a gateway
 * started while the controller is away serves from the nodes it last saw and
 * follows the controller once it is back.
 */

const dir = tempDir("photon-faults-membership-");
let cluster: MemberCluster;
/** Every object written, to read back. */
const objects = new Map<string, Buffer>();

async function put(key: string, size = 200_000): Promise<void> {
  const body = randomBytes(size);
  await cluster.gateway.s3.send(new PutObjectCommand({ Bucket: "members", Key: key, Body: body }));
  objects.set(key, body);
}

async function expectAllReadBack(): Promise<void> {
  for (const [key, body] of objects) {
    const got = await cluster.gateway.s3.send(new GetObjectCommand({ Bucket: "members", Key: key }));
    expect(Buffer.from(await got.Body!.transformToByteArray()).equals(body)).toBe(true);
  }
}

/** `photon node …` against the controller, as an operator runs it; fails on a non-zero exit. */
async function nodeCommand(...args: string[]): Promise<string> {
  const { code, stdout, stderr } = await runPhoton(["node", ...args, "--server", cluster.controller.url], { env: { PHOTON_TOKEN: cluster.controller.token } });
  if (code !== 0) throw new Error(`photon node ${args.join(" ")} failed: ${stderr}`);
  return stdout;
}

beforeAll(async () => {
  cluster = await startMemberCluster(dir.path, { gatewayArgs: ["--node-grace", "1500"] });
  await cluster.gateway.s3.send(new CreateBucketCommand({ Bucket: "members" }));
  for (let i = 0; i < 30; i++) await put(`before-${i}`);
});

afterAll(async () => {
  await cluster?.stop();
  dir[Symbol.dispose]();
});

describe("membership changes under load", () => {
  test("a node drained while four clients PUT is emptied, the copies PUTs placed on it while the drain was news included; every object reads back", async () => {
    const drained = cluster.nodes[3]!;
    const others = cluster.nodes.slice(0, 3);
    expect(chunkIdsOn(drained).length).toBeGreaterThan(0);
    let writing = true;
    let written = 0;
    const writers = Array.from({ length: 4 }, async (_, w) => {
      for (let i = 0; writing; i++, written++) await put(`during-${w}-${i}`);
    });
    await waitFor(() => written >= 12, "PUTs under way");
    await nodeCommand("drain", drained.name);
    const afterDrain = written;
    await waitFor(() => written >= afterDrain + 40, "forty PUTs after the drain", 120_000);
    writing = false;
    await Promise.all(writers);

    await waitFor(() => chunkIdsOn(drained).length === 0 && everyReferencedChunkHas(cluster, others), "the drained node emptied, every chunk on the three others", 120_000);
    await waitFor(async () => (await cluster.repairStatus()).misplaced === 0, "nothing misplaced");
    await expectAllReadBack();
  }, 240_000);

  test("a gateway started while the controller is away serves reads and writes from the nodes it last saw, then follows the controller again", async () => {
    const drained = cluster.nodes[3]!;
    const controllerAddress = new URL(cluster.controller.url).host;
    cluster.gateway.s3.destroy();
    expect(await cluster.gateway.proc.stop()).toBe(0);
    await cluster.controller.proc.stop();

    await cluster.startGateway();
    await cluster.gateway.proc.waitForLog((l) => l.msg === "the controller does not answer; storage nodes as last known", "the gateway to fall back on the nodes it last saw");
    await expectAllReadBack();
    for (let i = 0; i < 10; i++) await put(`controller-away-${i}`);
    // The last view had the drained node drained: nothing new goes there.
    expect(chunkIdsOn(drained)).toEqual([]);
    await expectAllReadBack();

    // The controller returns on its address: the undrain reaches the gateway, which gives the node its share back.
    cluster.controller = await startController(cluster.controller.dataDir, [], controllerAddress);
    await cluster.gateway.proc.waitForLog((l) => l.msg === "the controller answers again", "the gateway to hear from the controller again");
    await nodeCommand("drain", drained.name, "--undo");
    await waitFor(() => chunkIdsOn(drained).length > 0 && everyReferencedChunkHas(cluster, cluster.nodes), "the undrained node to take copies back", 120_000);
    await waitFor(async () => (await cluster.repairStatus()).misplaced === 0 && (await cluster.repairStatus()).underReplicated === 0, "copies back in place", 120_000);
    await expectAllReadBack();
  }, 240_000);

  test("a gateway killed (SIGKILL) while it re-creates a lost node's copies finishes the work after its restart", async () => {
    const lost = cluster.nodes[0]!;
    const live = cluster.nodes.slice(1);
    // Slow repairs (1 MiB/s), so the kill lands in the middle of the pass.
    cluster.gateway.s3.destroy();
    expect(await cluster.gateway.proc.stop()).toBe(0);
    await cluster.startGateway(["--repair-rate", "1"]);
    await lost.proc.stop("SIGKILL");
    await waitFor(async () => ((await cluster.repairStatus()).pass.current?.copied ?? 0) > 0, "the pass to have made some copies again", 60_000);
    expect(everyReferencedChunkHas(cluster, live)).toBe(false);
    await cluster.gateway.proc.stop("SIGKILL");

    await cluster.startGateway();
    await waitFor(() => everyReferencedChunkHas(cluster, live), "every chunk at three copies on the live nodes", 120_000);
    await waitFor(async () => (await cluster.repairStatus()).underReplicated === 0, "nothing under-replicated");
    await expectAllReadBack();
  }, 240_000);
});
