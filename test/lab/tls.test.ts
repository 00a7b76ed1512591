import { expect, test } from "bun:test";
import { CreateBucketCommand, GetObjectCommand, PutObjectCommand, S3Client } from "@aws-sdk/client-s3";
import { readFileSync } from "node:fs";
import { Agent } from "node:https";
import { runPhoton, tempDir } from "../helpers/photon.ts";
import { labCleanup, labEnv, labStatus, loopbackLab } from "./harness.ts";

test("lab up --tls: every service on HTTPS with the lab CA; lab status, S3 through the SDK and photon status work over it", async () => {
  using dir = tempDir("wt-lab-tls-");
  await using _cleanup = labCleanup(dir.path);
  const { lab, state } = await loopbackLab(dir.path, 2, ["--tls"]);
  await using _lab = lab;
  expect(state.ca).toBe(`${dir.path}/tls/ca.pem`);
  for (const url of [state.controllerUrl, state.nbdAdminUrl, state.s3Url, state.s3AdminUrl, ...state.nodes.map((n) => n.agentUrl)]) expect(url).toStartWith("https://");

  const { code, status } = await labStatus(dir.path);
  expect(status.services.filter((s) => !s.healthy)).toEqual([]);
  expect(status.endpoints.filter((e) => !e.up)).toEqual([]);
  expect(code).toBe(0);

  const env = await labEnv(dir.path);
  expect(env.PHOTON_CA).toBe(state.ca!);
  expect(env.AWS_CA_BUNDLE).toBe(state.ca!);
  const ca = readFileSync(state.ca!, "utf8");
  const s3 = new S3Client({
    endpoint: env.AWS_ENDPOINT_URL,
    region: env.AWS_REGION,
    forcePathStyle: true,
    credentials: { accessKeyId: env.AWS_ACCESS_KEY_ID!, secretAccessKey: env.AWS_SECRET_ACCESS_KEY! },
    requestHandler: { httpsAgent: new Agent({ ca }) },
  });
  try {
    await s3.send(new CreateBucketCommand({ Bucket: "tls-lab" }));

    const body = crypto.getRandomValues(new Uint8Array(1024 * 1024));
    await s3.send(new PutObjectCommand({ Bucket: "tls-lab", Key: "object", Body: body }));
    const read = await s3.send(new GetObjectCommand({ Bucket: "tls-lab", Key: "object" }));
    expect(Bun.hash(await read.Body!.transformToByteArray())).toBe(Bun.hash(body));
  } finally {
    s3.destroy();
  }

  const photonEnv = { PHOTON_SERVER: env.PHOTON_SERVER!, PHOTON_TOKEN: env.PHOTON_TOKEN!, PHOTON_CA: env.PHOTON_CA! };
  const statusOut = await runPhoton(["status", "--json"], { env: photonEnv });
  expect(statusOut.stderr).toBe("");
  const cluster = JSON.parse(statusOut.stdout) as { health: string; services: { service: string; url: string; health: string }[] };
  expect(cluster.services.filter((s) => s.health !== "ok")).toEqual([]);
  expect(cluster.services.map((s) => s.service).sort()).toEqual(["agent", "agent", "controller", "nbd-export", "s3", "s3-gateway admin"]);
  expect(cluster.services.every((s) => s.url.startsWith("https://"))).toBe(true);

  const untrusting = await runPhoton(["status"], { env: { PHOTON_SERVER: env.PHOTON_SERVER!, PHOTON_TOKEN: env.PHOTON_TOKEN! } });
  expect(untrusting.code).not.toBe(0);
  expect(untrusting.stderr).toContain("pass --ca");
});
