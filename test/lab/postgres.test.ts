import { CreateBucketCommand, GetObjectCommand, ListObjectsV2Command, PutObjectCommand, S3Client } from "@aws-sdk/client-s3";
import { expect, test } from "bun:test";
import { randomBytes } from "node:crypto";
import { readdirSync, readlinkSync } from "node:fs";
import { runPhoton, tempDir } from "../helpers/photon.ts";
import { expectNothingLeft, labCleanup, labEnv, labStatus, labUp, loopbackLab } from "./harness.ts";

/**
 * `lab up --metadata postgres`: a real PostgreSQL (Debian's server) on node01, the controller and
 * two gateways (node01, node02) on it; in a namespace per node as root, else on loopback.
 */
const root = process.getuid?.() === 0;

/** Processes whose working directory is under `dir`: PostgreSQL's server and every backend run in their data dir. */
function processesWorkingIn(dir: string): number[] {
  return readdirSync("/proc")
    .filter((entry) => /^\d+$/.test(entry))
    .filter((pid) => {
      try {
        return readlinkSync(`/proc/${pid}/cwd`).startsWith(`${dir}/`);
      } catch {
        return false;
      }
    })
    .map(Number);
}

function client(endpoint: string, env: Record<string, string>): S3Client {
  return new S3Client({ endpoint, region: env.AWS_REGION, forcePathStyle: true, credentials: { accessKeyId: env.AWS_ACCESS_KEY_ID!, secretAccessKey: env.AWS_SECRET_ACCESS_KEY! } });
}

async function read(s3: S3Client, key: string): Promise<Buffer> {
  const out = await s3.send(new GetObjectCommand({ Bucket: "shared", Key: key }));
  return Buffer.from(await out.Body!.transformToByteArray());
}

test("lab up --metadata postgres: PostgreSQL on node01 and two gateways on one namespace; what one stores the other serves, after a lab down and up too; lab down leaves nothing", async () => {
  using dir = tempDir("wt-lab-pg-");
  await using _cleanup = labCleanup(dir.path);
  const up = () => (root ? labUp(dir.path, ["--nodes", "2", "--base-port", "21100", "--metadata", "postgres"]) : loopbackLab(dir.path, 2, ["--metadata", "postgres"]));
  const first = await up();
  const state = first.state;
  {
    await using _lab = first.lab;
    const { code, status } = await labStatus(dir.path);
    expect(code).toBe(0);
    expect(status.services.map((s) => `${s.node} ${s.mode} ${s.healthy}`)).toEqual([
      "node01 postgres true",
      "node01 nbd-export true",
      "node01 s3-gateway true",
      "node02 s3-gateway true",
      "node01 controller true",
      "node01 agent true",
      "node02 agent true",
    ]);
    expect(status.endpoints.filter((e) => e.service === "S3").map((e) => `${e.node} ${e.url} ${e.up}`)).toEqual(
      state.nodes.map((n) => `${n.name} ${state.s3Url.replace(state.nodes[0]!.address, n.address)} true`),
    );
    expect(status.endpoints.filter((e) => e.service === "PostgreSQL").map((e) => e.up)).toEqual([true]);
    expect(status.endpoints.filter((e) => !e.up)).toEqual([]);
    // The services' password is in their environment and a file, never on a command line or in the printed URLs.
    expect(JSON.stringify(status.endpoints)).not.toMatch(/photon:[^@]+@/);

    const env = await labEnv(dir.path);
    const endpoints = env.PHOTON_S3_ENDPOINTS!.split(",");
    expect(endpoints).toEqual(state.s3Urls!);
    expect(endpoints[0]).toBe(env.AWS_ENDPOINT_URL!);
    const [one, two] = endpoints.map((e) => client(e, env));
    try {
      await one!.send(new CreateBucketCommand({ Bucket: "shared" }));
      const data = randomBytes(300_000);
      await one!.send(new PutObjectCommand({ Bucket: "shared", Key: "through-node01", Body: data }));
      expect((await read(two!, "through-node01")).equals(data)).toBe(true);
      await two!.send(new PutObjectCommand({ Bucket: "shared", Key: "through-node02", Body: "second" }));
      const listed = await one!.send(new ListObjectsV2Command({ Bucket: "shared" }));
      expect(listed.Contents?.map((o) => o.Key)).toEqual(["through-node01", "through-node02"]);
    } finally {
      for (const s3 of [one, two]) s3?.destroy();
    }

    const down = await runPhoton(["lab", "down", "--dir", dir.path]);
    expect(down.code).toBe(0);
    expect(await first.lab.exited).toBe(0);
  }
  expectNothingLeft(dir.path, state);
  expect(processesWorkingIn(dir.path)).toEqual([]);

  // The cluster is kept in node01's data dir like every node's data: the namespace is there again.
  const second = await up();
  await using _second = second.lab;
  const env = await labEnv(dir.path);
  const two = client(env.PHOTON_S3_ENDPOINTS!.split(",")[1]!, env);
  try {
    expect((await read(two, "through-node02")).toString()).toBe("second");
  } finally {
    two.destroy();
  }
  expect((await runPhoton(["lab", "down", "--dir", dir.path])).code).toBe(0);
  expect(await second.lab.exited).toBe(0);
  expectNothingLeft(dir.path, second.state);
  expect(processesWorkingIn(dir.path)).toEqual([]);
});
