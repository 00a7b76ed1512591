import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { CreateBucketCommand, GetObjectCommand, PutObjectCommand, S3Client } from "@aws-sdk/client-s3";
import { X509Certificate } from "node:crypto";
import { copyFileSync, readFileSync, writeFileSync } from "node:fs";
import { Agent } from "node:https";
import { join } from "node:path";
import tls from "node:tls";
import { ensureCa, issueCertificate, type CertificateFiles } from "../../src/lab/certificates.ts";
import { startGateway, type TestGateway } from "../helpers/s3-gateway.ts";
import { authed, runPhoton, startPhoton, tempDir, waitFor } from "../helpers/photon.ts";

const dir = tempDir("photon-tls-");
const ca = ensureCa(dir.path, "Photon test CA");
const serverCert = issueCertificate(ca, dir.path, "server", ["127.0.0.1", "localhost"]);
/** The files the gateway is started with; the tests overwrite them to renew. */
const live: CertificateFiles = { cert: join(dir.path, "live.pem"), key: join(dir.path, "live-key.pem") };
copyFileSync(serverCert.cert, live.cert);
copyFileSync(serverCert.key, live.key);
const caPem = readFileSync(ca.cert, "utf8");

/** The SHA-256 fingerprint of the certificate a new TLS connection to `url` is shown. */
function presentedFingerprint(url: string): Promise<string> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve, reject) => {
    const socket = tls.connect({ host: hostname, port: Number(port), ca: caPem, servername: "localhost" }, () => {
      resolve(socket.getPeerCertificate().fingerprint256);
      socket.end();
    });
    socket.on("error", reject);
  });
}

/** Sends `bytes` on a plain TCP connection and collects what comes back until the server closes. */
function rawExchange(url: string, bytes: Uint8Array | string): Promise<string> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve, reject) => {
    let received = "";
    Bun.connect({
      hostname,
      port: Number(port),
      socket: {
        open: (socket) => void socket.write(bytes),
        data: (_socket, data) => void (received += data.toString("latin1")),
        close: () => resolve(received),
        error: (_socket, err) => reject(err),
      },
    }).catch(reject);
  });
}

const fingerprintOf = (path: string) => new X509Certificate(readFileSync(path)).fingerprint256;
const sdk = (gw: TestGateway) => gw.client({ requestHandler: { httpsAgent: new Agent({ ca: caPem }) } });

let gw: TestGateway;
let s3: S3Client;
beforeAll(async () => {
  gw = await startGateway({ args: ["--tls-cert", live.cert, "--tls-key", live.key] });
  s3 = sdk(gw);
  await s3.send(new CreateBucketCommand({ Bucket: "tls" }));
});
afterAll(async () => {
  s3.destroy();
  await gw[Symbol.asyncDispose]();
  dir[Symbol.dispose]();
});

describe("HTTPS on the S3 listener", () => {
  test("both listeners announce https URLs", () => {
    expect(gw.endpoint).toStartWith("https://");
    expect(gw.admin).toStartWith("https://");
  });

  test("the SDK trusting the CA puts and gets a small and a multi-chunk object, and a range of it", async () => {
    const small = crypto.getRandomValues(new Uint8Array(100_000));
    const large = new Uint8Array(20 * 1024 * 1024);
    for (let i = 0; i < large.length; i += 65536) large.set(crypto.getRandomValues(new Uint8Array(65536)), i);
    for (const [key, body] of [["small", small], ["large", large]] as const) {
      await s3.send(new PutObjectCommand({ Bucket: "tls", Key: key, Body: body }));
      const got = await s3.send(new GetObjectCommand({ Bucket: "tls", Key: key }));
      expect(Bun.hash(await got.Body!.transformToByteArray())).toBe(Bun.hash(body));
    }
    const range = await s3.send(new GetObjectCommand({ Bucket: "tls", Key: "large", Range: "bytes=16777000-16778000" }));
    expect(Buffer.from(await range.Body!.transformToByteArray())).toEqual(Buffer.from(large.subarray(16777000, 16778001)));
  });

  test("a client that does not trust the CA is refused by its own certificate check", async () => {
    const untrusting = gw.client();
    await expect(untrusting.send(new GetObjectCommand({ Bucket: "tls", Key: "small" }))).rejects.toThrow();
    untrusting.destroy();
  });

  test("plain HTTP on the TLS ports gets a 400 saying to use https://, and the gateway keeps serving", async () => {
    for (const url of [gw.endpoint, gw.admin]) {
      const answer = await rawExchange(url, "GET /healthz HTTP/1.1\r\nhost: x\r\n\r\n");
      expect(answer).toStartWith("HTTP/1.1 400 Bad Request\r\n");
      expect(answer).toContain("This port speaks HTTPS: use an https:// URL.");
    }
    const health = await fetch(`${gw.admin}/healthz`, { tls: { ca: caPem } });
    expect(health.status).toBe(200);
    await gw.proc.waitForLog((l) => l.msg === "refused a connection that does not speak TLS on a TLS port", "the refusal logged");
  });

  test("garbage inside a TLS handshake closes that connection only", async () => {
    const garbage = Buffer.concat([Buffer.from([0x16, 0x03, 0x01, 0x00, 0x40]), crypto.getRandomValues(new Uint8Array(64))]);
    for (const url of [gw.endpoint, gw.admin]) expect(await rawExchange(url, garbage)).not.toContain("HTTP/1.1 200");
    const got = await s3.send(new GetObjectCommand({ Bucket: "tls", Key: "small" }));
    expect((await got.Body!.transformToByteArray()).length).toBe(100_000);
    expect(gw.proc.proc.exitCode).toBeNull();
  });
});

describe("certificate renewal on SIGHUP", () => {
  test("after the files are replaced and SIGHUP, new connections see the new certificate on both listeners", async () => {
    const before = fingerprintOf(live.cert);
    expect(await presentedFingerprint(gw.endpoint)).toBe(before);
    const renewed = issueCertificate(ca, dir.path, "renewed", ["127.0.0.1", "localhost"]);
    copyFileSync(renewed.cert, live.cert);
    copyFileSync(renewed.key, live.key);
    const after = fingerprintOf(live.cert);
    expect(after).not.toBe(before);
    gw.proc.proc.kill("SIGHUP");
    await gw.proc.waitForLog((l) => l.msg === "SIGHUP: reloaded the TLS certificate" && l.fingerprint256 === after, "the reload logged");
    expect(await presentedFingerprint(gw.endpoint)).toBe(after);
    expect(await presentedFingerprint(gw.admin)).toBe(after);
    const got = await s3.send(new GetObjectCommand({ Bucket: "tls", Key: "small" }));
    expect((await got.Body!.transformToByteArray()).length).toBe(100_000);
  });

  test("a key that does not match the certificate is not loaded: the one in use stays, and so does the service", async () => {
    const inUse = await presentedFingerprint(gw.endpoint);
    const other = issueCertificate(ca, dir.path, "other", ["127.0.0.1"]);
    copyFileSync(other.key, live.key); // the certificate file still holds the previous one
    gw.proc.proc.kill("SIGHUP");
    await gw.proc.waitForLog((l) => l.msg === "SIGHUP: the TLS certificate was not reloaded; the previous one stays in use", "the refused reload logged");
    expect(await presentedFingerprint(gw.endpoint)).toBe(inUse);
    expect(await presentedFingerprint(gw.admin)).toBe(inUse);
  });
});

describe("plaintext listeners and TLS clients", () => {
  test("a TLS ClientHello on a plaintext port is refused, and the server keeps serving", async () => {
    await using plain = await startGateway();
    for (const url of [plain.endpoint, plain.admin]) await expect(presentedFingerprint(url)).rejects.toThrow();
    await plain.proc.waitForLog((l) => l.msg.startsWith("refused a TLS handshake on a plaintext port"), "the refusal logged");
    expect((await fetch(`${plain.admin}/healthz`)).status).toBe(200);
  });
});

describe("clients verify against --ca", () => {
  test("photon s3 key list takes an https:// server and --ca; without the CA it says to pass one", async () => {
    const env = { PHOTON_TOKEN: gw.token };
    const listed = await runPhoton(["s3", "key", "list", "--server", gw.admin, "--ca", ca.cert, "--json"], { env });
    expect(listed.stderr).toBe("");
    expect(listed.code).toBe(0);
    expect(JSON.parse(listed.stdout).map((k: { accessKey: string }) => k.accessKey)).toContain(gw.credentials.accessKeyId);
    const refused = await runPhoton(["s3", "key", "list", "--server", gw.admin], { env });
    expect(refused.code).not.toBe(0);
    expect(refused.stderr).toContain("pass --ca");
  });

  test("an agent registers with a TLS controller, and a gateway replicates to TLS storage nodes, all verified against the CA", async () => {
    using work = tempDir();
    const certArgs = ["--tls-cert", serverCert.cert, "--tls-key", serverCert.key, "--ca", ca.cert];
    const token = "tls-token-" + crypto.randomUUID();
    const env = { PHOTON_TOKEN: token };
    await using controller = startPhoton(["controller", "--data-dir", join(work.path, "c"), "--listen", "127.0.0.1:0", ...certArgs], { env });
    const controllerUrl = await controller.url();
    expect(controllerUrl).toStartWith("https://");
    await using agent = startPhoton(["agent", "--data-dir", join(work.path, "a"), "--listen", "127.0.0.1:0", "--controller", controllerUrl, "--name", "tls1", "--roles", "storage", "--heartbeat-interval", "100", ...certArgs], { env });
    const agentUrl = await agent.url();
    const nodes = await waitFor(async () => {
      const response = await fetch(`${controllerUrl}/v1/nodes`, { ...authed(token), tls: { ca: caPem } });
      const body = (await response.json()) as { nodes: { name: string; state: string; advertise: string }[] };
      return body.nodes.find((n) => n.name === "tls1" && n.state === "up") ? body.nodes : undefined;
    }, "the agent registered over TLS");
    expect(nodes[0]!.advertise).toStartWith("https://");
    await using replicated = await startGateway({ token, args: ["--storage-nodes", agentUrl, ...certArgs] });
    const client = sdk(replicated);
    await client.send(new CreateBucketCommand({ Bucket: "replicated" }));
    const body = crypto.getRandomValues(new Uint8Array(300_000));
    await client.send(new PutObjectCommand({ Bucket: "replicated", Key: "k", Body: body }));
    const got = await client.send(new GetObjectCommand({ Bucket: "replicated", Key: "k" }));
    expect(Bun.hash(await got.Body!.transformToByteArray())).toBe(Bun.hash(body));
    client.destroy();
  });
});

describe("admin APIs behind the TLS front", () => {
  test("a volume image streams up and back down intact over HTTPS (the front's backpressure both ways)", async () => {
    using work = tempDir();
    const image = join(work.path, "image.raw");
    const bytes = new Uint8Array(48 * 1024 * 1024);
    for (let i = 0; i < bytes.length; i += 65536) bytes.set(crypto.getRandomValues(new Uint8Array(65536)), i);
    writeFileSync(image, bytes);
    const env = { PHOTON_TOKEN: "front-" + crypto.randomUUID() };
    await using exporter = startPhoton(["nbd-export", "--data-dir", join(work.path, "d"), "--listen", "none", "--socket", "none", "--admin", "127.0.0.1:0", "--tls-cert", serverCert.cert, "--tls-key", serverCert.key], { env });
    const admin = await exporter.url();
    const imported = await runPhoton(["volume", "import", "big", image, "--server", admin, "--ca", ca.cert, "--json"], { env });
    expect({ code: imported.code, stderr: imported.stderr }).toEqual({ code: 0, stderr: expect.any(String) });
    const response = await fetch(`${admin}/v1/volumes/big/image`, { ...authed(env.PHOTON_TOKEN), tls: { ca: caPem } });
    expect(response.status).toBe(200);
    expect(Bun.hash(new Uint8Array(await response.arrayBuffer()))).toBe(Bun.hash(bytes));
  });
});
