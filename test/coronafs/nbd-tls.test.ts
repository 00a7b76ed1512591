import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { cpSync, mkdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { ByteReader } from "../../src/coronafs/nbd/byte-reader.ts";
import { NbdClient } from "../../src/coronafs/nbd/client.ts";
import { TlsContext } from "../../src/coronafs/tls/context.ts";
import { TlsSession } from "../../src/coronafs/tls/session.ts";
import { mustRun, run, startExport, type TestExport } from "../helpers/nbd-export.ts";
import { runPhoton, startPhoton, tempDir } from "../helpers/photon.ts";
import { makeTlsCredentials, type TlsCredentials } from "../helpers/tls-credentials.ts";

const MiB = 1024 * 1024;
const scratch = tempDir("photon-nbd-tls-");
let creds: TlsCredentials;
/** TLS required, PSK keys for alice (rw on vm-*), bob (ro on vm-*) and carol (no rule), and a server certificate. */
let psk: TestExport;
/** TLS required, X.509, client certificates verified against the test CA. */
let x509: TestExport;
/** No TLS (the default). */
let plain: TestExport;

beforeAll(async () => {
  creds = await makeTlsCredentials(scratch.path, { pskUsers: ["alice", "bob", "carol"], clients: ["alice"] });
  const access = join(scratch.path, "access");
  writeFileSync(access, "alice vm-* rw\nbob   vm-* ro\n");
  [psk, x509, plain] = await Promise.all([
    startExport({ args: ["--tls", "require", "--tls-psk", creds.pskFile, "--tls-access", access, ...serverCert()], ca: creds.caFile }),
    startExport({ args: ["--tls", "require", ...serverCert(), "--tls-verify-peer", "--tls-ca", creds.caFile], ca: creds.caFile }),
    startExport({ args: ["--socket-mode", "0660", "--socket-owner", "nobody", "--socket-group", "disk"] }),
  ]);
  await Promise.all([psk.createVolume("vm-1", 16 * MiB), psk.createVolume("other", MiB), x509.createVolume("vm-1", 4 * MiB), plain.createVolume("healthy", MiB)]);
});
afterAll(async () => {
  await Promise.all([psk, x509, plain].map((ex) => ex?.[Symbol.asyncDispose]()));
  scratch[Symbol.dispose]();
});

const serverCert = () => ["--tls-cert", join(creds.serverDir, "server-cert.pem"), "--tls-key", join(creds.serverDir, "server-key.pem")];
const pskUri = (ex: TestExport, user: string, name: string, keys = creds.pskFile) => `nbds://${user}@127.0.0.1:${ex.tcpPort}/${name}?tls-psk-file=${keys}`;

/** qemu's --object and --image-opts for an NBD export over TLS. */
function qemuTls(ex: TestExport, name: string, object: string): string[] {
  return ["--object", `${object},id=tls0,endpoint=client`, "--image-opts", `driver=nbd,server.type=inet,server.host=127.0.0.1,server.port=${ex.tcpPort},export=${name},tls-creds=tls0`];
}
const qemuPsk = (user: string, name = "vm-1", dir = creds.pskDir) => qemuTls(psk, name, `tls-creds-psk,dir=${dir},username=${user}`);

/** A healthy client is still served: other clients' failures did not disturb the server. */
async function stillServing(): Promise<void> {
  const info = await mustRun(["nbdinfo", "--size", pskUri(psk, "alice", "vm-1")]);
  expect(Number(info.trim())).toBe(16 * MiB);
}

/** A raw TCP connection for hostile clients. */
async function rawConnection(port: number) {
  const reader = new ByteReader();
  let closed!: () => void;
  const ended = new Promise<void>((resolve) => (closed = resolve));
  const socket = await Bun.connect({
    hostname: "127.0.0.1",
    port,
    socket: { data: (_s, chunk) => reader.push(chunk), close: () => (reader.fail(new Error("closed")), closed()), error: () => closed() },
  });
  return { reader, ended, write: (bytes: Uint8Array) => socket.write(bytes), end: () => socket.end() };
}

/** Client flags then NBD_OPT_STARTTLS; resolves with the reply type. */
async function startTlsRaw(conn: Awaited<ReturnType<typeof rawConnection>>): Promise<number> {
  await conn.reader.read(18);
  const request = Buffer.alloc(20);
  request.writeUInt32BE(3, 0);
  request.writeBigUInt64BE(0x49484156454f5054n, 4);
  request.writeUInt32BE(5, 12);
  conn.write(request);
  return (await conn.reader.read(20)).readUInt32BE(12);
}

describe("NBD over TLS-PSK", () => {
  test("qemu-io writes and qemu-img reads back through tls-creds-psk", async () => {
    await mustRun(["qemu-io", ...qemuPsk("alice"), "-c", "write -P 0x5c 1M 256k"]);
    const out = await mustRun(["qemu-io", ...qemuPsk("alice"), "-c", "read -P 0x5c 1M 256k", "-c", "read -P 0 0 1M"]);
    expect(out).not.toContain("Pattern verification failed");
    const info = await mustRun(["qemu-img", "info", "--output=json", ...qemuPsk("alice")]);
    expect(JSON.parse(info)["virtual-size"]).toBe(16 * MiB);
  });

  test("nbdinfo and nbdcopy with an nbds:// PSK URI move the exact bytes", async () => {
    const info = await mustRun(["nbdinfo", pskUri(psk, "alice", "vm-1")]);
    expect(info).toContain("with TLS");
    const src = join(scratch.path, "random.bin");
    writeFileSync(src, crypto.getRandomValues(new Uint8Array(8 * MiB)));
    const back = join(scratch.path, "back.bin");
    await mustRun(["nbdcopy", src, pskUri(psk, "alice", "vm-1")]);
    await mustRun(["nbdcopy", pskUri(psk, "alice", "vm-1"), back]);
    expect(readFileSync(back).subarray(0, 8 * MiB).equals(readFileSync(src))).toBe(true);
  });

  test("a wrong key is refused in the TLS handshake and the server keeps serving", async () => {
    const wrongDir = join(scratch.path, "wrong");
    await mustRun(["mkdir", "-p", wrongDir]);
    writeFileSync(join(wrongDir, "keys.psk"), `alice:${"ab".repeat(32)}\n`);
    const result = await run(["qemu-img", "info", ...qemuPsk("alice", "vm-1", wrongDir)]);
    expect(result.code).not.toBe(0);
    expect(result.stderr.toLowerCase()).toMatch(/tls|handshake|alert/);
    await psk.proc.waitForLog((l) => l.msg === "TLS handshake or record failed" && l.identity === "alice", "the failed handshake logged with its identity");
    await stillServing();
  });

  test("a client without TLS gets NBD_REP_ERR_TLS_REQD (qemu-img reports it)", async () => {
    const result = await run(["qemu-img", "info", psk.tcpUri("vm-1")]);
    expect(result.code).not.toBe(0);
    expect(result.stderr).toMatch(/TLS/i);
    await stillServing();
  });

  test("garbage in place of the TLS handshake ends that connection only", async () => {
    const conn = await rawConnection(psk.tcpPort);
    expect(await startTlsRaw(conn)).toBe(1); // NBD_REP_ACK
    conn.write(Buffer.from("this is not a TLS ClientHello, just garbage bytes".repeat(4)));
    await conn.ended;
    await psk.proc.waitForLog((l) => l.msg === "TLS handshake or record failed" && String(l.error).includes("SSL routines"), "the garbage logged");
    await stillServing();
  });

  test("with --tls allow, plaintext and TLS clients are both served", async () => {
    await using allow = await startExport({ args: ["--tls", "allow", "--tls-psk", creds.pskFile] });
    await allow.createVolume("vm-1", MiB);
    expect(await mustRun(["nbdinfo", allow.tcpUri("vm-1")])).toContain("without TLS");
    expect(await mustRun(["nbdinfo", pskUri(allow, "bob", "vm-1")])).toContain("with TLS");
  });

  test("STARTTLS on a server without TLS is refused with NBD_REP_ERR_POLICY", async () => {
    const conn = await rawConnection(plain.tcpPort);
    expect(await startTlsRaw(conn)).toBe(0x80000002);
    conn.end();
  });

  test("a TLS ClientHello sent to a plaintext export is refused and the server goes on", async () => {
    const context = TlsContext.client({ psk: { identity: "alice", key: Buffer.alloc(32) } });
    const session = TlsSession.create(context, "127.0.0.1");
    const hello = session.takeCiphertext()!;
    session.free();
    context.free();
    const conn = await rawConnection(plain.tcpPort);
    await conn.reader.read(18);
    conn.write(hello);
    await conn.ended;
    await plain.proc.waitForLog((l) => String(l.msg).startsWith("TLS ClientHello instead of NBD client flags"), "the refusal logged");
    const info = await mustRun(["nbdinfo", "--size", plain.tcpUri("healthy")]);
    expect(Number(info.trim())).toBe(MiB);
  });
});

describe("per-identity volume access", () => {
  test("an identity without a rule for the volume gets NBD_REP_ERR_POLICY", async () => {
    const result = await run(["qemu-img", "info", ...qemuPsk("carol")]);
    expect(result.code).not.toBe(0);
    expect(result.stderr).toContain('identity "carol" may not open export "vm-1"');
    const other = await run(["qemu-img", "info", ...qemuPsk("alice", "other")]);
    expect(other.stderr).toContain('identity "alice" may not open export "other"');
    const list = await mustRun(["nbdinfo", "--list", pskUri(psk, "alice", "")]);
    expect(list).toContain("vm-1");
    expect(list).not.toContain("other");
  });

  test("a certificate client without a verified identity may open nothing (PSK users of the same server still can)", async () => {
    const result = await run(["nbdinfo", "--size", `nbds://127.0.0.1:${psk.tcpPort}/vm-1?tls-certificates=${creds.caOnlyDir}`]);
    expect(result.code).not.toBe(0);
    expect(result.stderr).toContain("server policy prevents NBD_OPT_GO"); // libnbd on NBD_REP_ERR_POLICY
    await psk.proc.waitForLog((l) => l.msg === "export refused by the access list" && l.identity === undefined, "the refusal logged");
    await stillServing();
  });

  test("a read-only identity reads, sees NBD_FLAG_READ_ONLY, and its writes fail with EPERM", async () => {
    await mustRun(["qemu-io", ...qemuPsk("alice"), "-c", "write -P 0x77 0 64k"]);
    const read = await mustRun(["qemu-io", "-r", ...qemuPsk("bob"), "-c", "read -P 0x77 0 64k"]);
    expect(read).not.toContain("Pattern verification failed");
    const write = await run(["qemu-io", ...qemuPsk("bob"), "-c", "write -P 0x11 0 64k"]);
    expect(write.code !== 0 || /read.only|not permitted/i.test(write.stdout + write.stderr)).toBe(true);
    const client = await NbdClient.connect({ uri: pskUri(psk, "bob", "vm-1") });
    try {
      expect(client.readOnly).toBe(true);
      const error = await client.write(0, Buffer.alloc(4096, 0x11)).catch((e: Error & { errno?: number }) => e);
      expect((error as { errno?: number }).errno).toBe(1); // EPERM
      expect((await client.read(0, 4096)).every((b) => b === 0x77)).toBe(true);
    } finally {
      await client.close();
    }
  });
});

describe("SIGHUP", () => {
  test("new PSK keys and access rules apply to new connections; open ones go on; bad files change nothing", async () => {
    const dir = join(scratch.path, "reload");
    mkdirSync(dir);
    const keys = join(dir, "keys.psk");
    const access = join(dir, "access");
    await mustRun(["psktool", "-u", "alice", "-p", keys]);
    writeFileSync(access, "alice * rw\n");
    await using ex = await startExport({ args: ["--tls", "require", "--tls-psk", keys, "--tls-access", access] });
    await ex.createVolume("vm-1", MiB);
    const open = await NbdClient.connect({ uri: pskUri(ex, "alice", "vm-1", keys) });
    try {
      expect((await run(["nbdinfo", "--size", pskUri(ex, "dave", "vm-1", keys)])).code).not.toBe(0);
      await mustRun(["psktool", "-u", "dave", "-p", keys]);
      writeFileSync(access, "alice * rw\ndave vm-* ro\n");
      ex.proc.proc.kill("SIGHUP");
      await ex.proc.waitForLog((l) => l.msg === "SIGHUP: reread the NBD TLS settings", "the reload");
      expect(Number((await mustRun(["nbdinfo", "--size", pskUri(ex, "dave", "vm-1", keys)])).trim())).toBe(MiB);
      writeFileSync(access, "dave vm-* maybe\n");
      ex.proc.proc.kill("SIGHUP");
      await ex.proc.waitForLog((l) => l.msg === "SIGHUP: the NBD TLS settings were not reread; the previous ones stay", "the refused reload");
      expect(Number((await mustRun(["nbdinfo", "--size", pskUri(ex, "dave", "vm-1", keys)])).trim())).toBe(MiB);
      await open.write(0, Buffer.alloc(4096, 0x21));
      expect((await open.read(0, 4096)).every((b) => b === 0x21)).toBe(true);
    } finally {
      await open.close();
    }
  });
});

describe("NBD over TLS with X.509", () => {
  const x509Object = (dir: string) => `tls-creds-x509,dir=${dir}`;

  test("qemu-io with a client certificate writes and reads back", async () => {
    await mustRun(["qemu-io", ...qemuTls(x509, "vm-1", x509Object(creds.clientDirs.alice!)), "-c", "write -P 0x3c 0 128k"]);
    const out = await mustRun(["qemu-io", ...qemuTls(x509, "vm-1", x509Object(creds.clientDirs.alice!)), "-c", "read -P 0x3c 0 128k"]);
    expect(out).not.toContain("Pattern verification failed");
    await x509.proc.waitForLog((l) => l.msg === "TLS established" && l.identity === "alice", "the client certificate's CN as identity");
  });

  test("nbdinfo with tls-certificates and Photon's own client both verify the server", async () => {
    const info = await mustRun(["nbdinfo", "--size", `nbds://127.0.0.1:${x509.tcpPort}/vm-1?tls-certificates=${creds.clientDirs.alice}`]);
    expect(Number(info.trim())).toBe(4 * MiB);
    const client = await NbdClient.connect({ uri: `nbds://127.0.0.1:${x509.tcpPort}/vm-1?tls-certificates=${creds.clientDirs.alice}` });
    try {
      expect((await client.read(0, 4096)).every((b) => b === 0x3c)).toBe(true);
    } finally {
      await client.close();
    }
  });

  test("fio's nbd engine runs verified writes over TLS with the CA in libnbd's default place", async () => {
    // fio does not let libnbd read files named in a URI (tls-psk-file, tls-certificates: "local file
    // access is not allowed"), so the CA goes where libnbd looks by default, $HOME/.pki/libnbd; libnbd
    // sends no client certificate from there, so this export does not ask for one.
    await using open = await startExport({ args: ["--tls", "require", ...serverCert()], ca: creds.caFile });
    await open.createVolume("vm-1", 4 * MiB);
    const home = join(scratch.path, "fio-home");
    mkdirSync(join(home, ".pki", "libnbd"), { recursive: true });
    cpSync(creds.caFile, join(home, ".pki", "libnbd", "ca-cert.pem"));
    const fio = Bun.spawn(
      ["fio", "--name=tls", "--ioengine=nbd", `--uri=nbds://127.0.0.1:${open.tcpPort}/vm-1`, "--rw=randwrite", "--bs=4k", "--size=2M", "--iodepth=4", "--verify=crc32c", "--output-format=json"],
      { env: { ...process.env, HOME: home }, cwd: home, stdout: "pipe", stderr: "pipe" }, // cwd: fio leaves its verify state there
    );
    const [stdout, stderr, code] = await Promise.all([new Response(fio.stdout).text(), new Response(fio.stderr).text(), fio.exited]);
    expect(code, stderr).toBe(0);
    const job = (JSON.parse(stdout.slice(stdout.indexOf("{"))) as { jobs: { error: number; write: { io_bytes: number }; read: { io_bytes: number } }[] }).jobs[0]!;
    expect(job.error).toBe(0);
    expect(job.write.io_bytes).toBe(2 * MiB);
    expect(job.read.io_bytes).toBe(2 * MiB); // the verify pass read everything back
    await open.proc.waitForLog((l) => l.msg === "TLS established", "fio's connection was TLS");
  });

  test("a client without a certificate is refused when peers are verified", async () => {
    const result = await run(["qemu-img", "info", ...qemuTls(x509, "vm-1", x509Object(creds.caOnlyDir))]);
    expect(result.code).not.toBe(0);
    const info = await mustRun(["nbdinfo", "--size", `nbds://127.0.0.1:${x509.tcpPort}/vm-1?tls-certificates=${creds.clientDirs.alice}`]);
    expect(Number(info.trim())).toBe(4 * MiB);
  });

  test("Photon's client refuses a server whose certificate its CA did not sign", async () => {
    const other = join(scratch.path, "other-ca");
    await makeTlsCredentials(other, { pskUsers: [], clients: ["alice"] });
    const error = await NbdClient.connect({ uri: `nbds://127.0.0.1:${x509.tcpPort}/vm-1?tls-certificates=${join(other, "client-alice")}` }).catch((e: Error) => e);
    expect(String(error)).toContain("certificate verify failed");
  });
});

describe("materialize over TLS", () => {
  test("a volume is materialized from a TLS-PSK export into a plaintext one", async () => {
    await mustRun(["qemu-io", ...qemuPsk("alice"), "-c", "write -P 0x42 2M 1M"]);
    const res = await plain.api("POST", "/v1/volumes", { name: "pulled", source: pskUri(psk, "alice", "vm-1") });
    expect(res.status).toBe(201);
    const out = await mustRun(["qemu-io", "-r", "-f", "raw", plain.tcpUri("pulled"), "-c", "read -P 0x42 2M 1M"]);
    expect(out).not.toContain("Pattern verification failed");
  });

  test("a materialize with an identity the export refuses fails with the server's reason", async () => {
    const res = await plain.api("POST", "/v1/volumes", { name: "refused", source: pskUri(psk, "carol", "vm-1") });
    expect(res.status).toBe(400);
    expect(await res.text()).toContain('identity \\"carol\\" may not open export \\"vm-1\\"');
  });
});

describe("NBD unix socket access", () => {
  test("the socket gets the configured mode, owner and group", async () => {
    const st = statSync(plain.socket);
    expect(st.mode & 0o777).toBe(0o660);
    expect(st.uid).toBe(Number((await mustRun(["id", "-u", "nobody"])).trim()));
    expect(st.gid).toBe(Number((await mustRun(["getent", "group", "disk"])).split(":")[2]));
  });

  test("an agent's node-local socket gets the mode and group of its --nbd-socket-* flags", async () => {
    const dataDir = join(scratch.path, "agent");
    await using agent = startPhoton(
      ["agent", "--data-dir", dataDir, "--listen", "127.0.0.1:0", "--controller", "http://127.0.0.1:1", "--roles", "nbd", "--nbd-socket-mode", "0640", "--nbd-socket-group", "disk"],
      { env: { PHOTON_TOKEN: "agent-token" } },
    );
    const url = await agent.url("nbd-unix");
    const st = statSync(new URL(url).searchParams.get("socket")!);
    expect(st.mode & 0o777).toBe(0o640);
    expect(st.uid).toBe(process.getuid!());
    expect(st.gid).toBe(Number((await mustRun(["getent", "group", "disk"])).split(":")[2]));
  });

  test("bad TLS and socket settings stop the start with a clear message", async () => {
    const dataDir = join(scratch.path, "bad");
    const cases: [string[], string][] = [
      [["--tls", "require"], "--tls require needs --tls-cert/--tls-key or --tls-psk"],
      [["--tls", "sometimes"], '--tls: expected off, allow or require, not "sometimes"'],
      [["--tls-psk", creds.pskFile], "--tls is off"],
      [["--tls", "require", "--tls-psk", join(scratch.path, "access")], "expected identity:hexkey"],
      [["--socket-mode", "999"], "expected octal permissions"],
      [["--socket-owner", "no-such-user-here"], 'no such user'],
    ];
    for (const [args, message] of cases) {
      const result = await runPhoton(["nbd-export", "--data-dir", dataDir, "--listen", "127.0.0.1:0", "--admin", "127.0.0.1:0", "--token", "t", ...args]);
      expect(result.code).not.toBe(0);
      expect(result.stderr).toContain(message);
    }
  });
});
