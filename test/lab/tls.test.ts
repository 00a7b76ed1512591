import { expect, test } from "bun:test";
import { CreateBucketCommand, GetObjectCommand, PutObjectCommand, S3Client } from "@aws-sdk/client-s3";
import { copyFileSync, readFileSync } from "node:fs";
import { Agent } from "node:https";
import { join } from "node:path";
import { NbdClient } from "../../src/coronafs/nbd/client.ts";
import { ensureCa } from "../../src/lab/certificates.ts";
import { nbdClientUri } from "../../src/lab/state.ts";
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

test("lab up --tls: the central NBD export requires TLS; qemu-img, nbdinfo, an agent's materialize and an image's base build reach it over nbds with the lab CA", async () => {
  using dir = tempDir("wt-lab-nbdtls-");
  await using _cleanup = labCleanup(dir.path);
  const { lab, state } = await loopbackLab(dir.path, 2, ["--tls"]);
  await using _lab = lab;
  expect(state.nbdUrl).toStartWith("nbds://");
  const env = await labEnv(dir.path);
  expect(env.PHOTON_NBD_URL).toBe(state.nbdUrl);
  expect(env.PHOTON_NBD_TLS_DIR).toBe(state.nbdTlsDir!);
  const photonEnv = { env: { PHOTON_TOKEN: env.PHOTON_TOKEN!, PHOTON_CA: env.PHOTON_CA! } };

  const created = await runPhoton(["volume", "create", "tlsvol", "--size", "8M", "--json", "--server", state.nbdAdminUrl], photonEnv);
  expect(created.stderr).toBe("");
  const central = JSON.parse(created.stdout) as { uris: { tcp: string } };
  expect(central.uris.tcp).toBe(`${state.nbdUrl}/tlsvol`);
  const data = crypto.getRandomValues(new Uint8Array(64 * 1024));
  const writer = await NbdClient.connect({ uri: nbdClientUri(state, "tlsvol") });
  await writer.write(1024 * 1024, Buffer.from(data));
  await writer.flush();
  await writer.close();

  // Plaintext is refused (FORCEDTLS: NBD_REP_ERR_TLS_REQD), and so is a client trusting another CA.
  const plain = Bun.spawnSync(["qemu-img", "info", `nbd://${new URL(state.nbdUrl).host}/tlsvol`], { stdout: "pipe", stderr: "pipe" });
  expect(plain.exitCode).not.toBe(0);
  expect(plain.stderr.toString()).toContain("TLS");
  using otherCa = tempDir("wt-lab-otherca-");
  copyFileSync(ensureCa(otherCa.path, "another CA").cert, join(otherCa.path, "ca-cert.pem"));
  const untrusting = Bun.spawnSync(["nbdinfo", "--size", `${state.nbdUrl}/tlsvol?tls-certificates=${otherCa.path}`], { stdout: "pipe", stderr: "pipe" });
  expect(untrusting.exitCode).not.toBe(0);

  // With what `lab env` gives: QEMU's tls-creds-x509 object, and libnbd's tls-certificates directory.
  const info = Bun.spawnSync(
    ["qemu-img", "info", "--output=json", "--object", env.PHOTON_NBD_QEMU_OBJECT!, "--image-opts", `${env.PHOTON_NBD_QEMU_OPTS},export=tlsvol`],
    { stdout: "pipe", stderr: "pipe" },
  );
  expect(info.stderr.toString()).toBe("");
  expect(JSON.parse(info.stdout.toString())["virtual-size"]).toBe(8 * 1024 * 1024);
  const size = Bun.spawnSync(["nbdinfo", "--size", nbdClientUri(state, "tlsvol")], { stdout: "pipe", stderr: "pipe" });
  expect(size.stderr.toString()).toBe("");
  expect(size.stdout.toString().trim()).toBe(String(8 * 1024 * 1024));

  // node02's agent pulls the bare nbds:// URI the export printed, verifying it with its --ca, and serves the copy on its unix socket.
  const local = await runPhoton(["volume", "create", "tlsvol", "--from", central.uris.tcp, "--json", "--server", state.nodes[1]!.agentUrl], photonEnv);
  expect(local.stderr).toBe("");
  const copy = await NbdClient.connect({ uri: (JSON.parse(local.stdout) as { uris: { unix: string } }).uris.unix });
  const source = await NbdClient.connect({ uri: nbdClientUri(state, "tlsvol") });
  try {
    expect(copy.size).toBe(source.size);
    for (let offset = 0; offset < source.size; offset += 1024 * 1024) {
      expect(Bun.hash(await copy.read(offset, 1024 * 1024))).toBe(Bun.hash(await source.read(offset, 1024 * 1024)));
    }
    expect(Buffer.from(await copy.read(1024 * 1024, data.length)).equals(Buffer.from(data))).toBe(true);
  } finally {
    await copy.close();
    await source.close();
  }

  // PlasmaVMC: a qcow2 image's raw base is built by the central export reading its own nbds:// URI (verified with its --ca).
  using images = tempDir("wt-lab-tls-image-");
  const qcow2 = join(images.path, "tiny.qcow2");
  expect(Bun.spawnSync(["qemu-img", "create", "-f", "qcow2", qcow2, "4M"]).exitCode).toBe(0);
  expect(Bun.spawnSync(["qemu-io", "-f", "qcow2", "-c", "write -P 0x42 1M 64k", qcow2]).exitCode).toBe(0);
  const controllerEnv = { env: { ...photonEnv.env, PHOTON_SERVER: env.PHOTON_SERVER! } };
  const image = await runPhoton(["image", "create", "tiny", "--from", qcow2, "--json"], controllerEnv);
  expect(image.code).toBe(0);
  const cloned = await runPhoton(["volume", "create", "fromimg", "--image", "tiny", "--json"], controllerEnv);
  expect(cloned.stderr).toBe("");
  const clone = await NbdClient.connect({ uri: nbdClientUri(state, "fromimg") });
  try {
    expect(Buffer.from(await clone.read(1024 * 1024, 64 * 1024)).equals(Buffer.alloc(64 * 1024, 0x42))).toBe(true);
  } finally {
    await clone.close();
  }

  const { status } = await labStatus(dir.path);
  expect(status.endpoints.find((e) => e.service === "nbd-export NBD")).toMatchObject({ url: `${state.nbdUrl}/<volume>?tls-certificates=${state.nbdTlsDir}`, up: true });
});
