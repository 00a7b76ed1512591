import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { startExport, type TestExport } from "../helpers/nbd-export.ts";
import { startGateway } from "../helpers/s3-gateway.ts";
import { runPhoton } from "../helpers/photon.ts";

/**
 * What a client command prints when things go wrong and when they go right:
 * one error line that says what to do (JSON on stderr with --json, a stack
 * only at --log-level debug), usage that names the whole command, human
 * sizes instead of byte counts and JSON blobs.
 */

/** Nothing listens there: 127.0.0.9 is loopback, and labs and tests bind elsewhere or port 0. */
const deadExport = "http://127.0.0.9:7072";
const hasStack = (text: string) => /^\s+at /m.test(text);

let ex: TestExport;
beforeAll(async () => {
  ex = await startExport();
});
afterAll(async () => {
  await ex?.[Symbol.asyncDispose]();
});
const cli = (...args: string[]) => runPhoton([...args, "--server", ex.admin], { env: { PHOTON_TOKEN: ex.token } });

describe("errors", () => {
  test("an unreachable server is one line naming the mode to start and how to point elsewhere", async () => {
    const out = await runPhoton(["volume", "list", "--server", deadExport, "--token", "t"]);
    expect(out.code).toBe(1);
    expect(out.stdout).toBe("");
    expect(out.stderr).toBe(`error: cannot reach ${deadExport} (connection refused) — is photon nbd-export running there? set --server or PHOTON_SERVER\n`);
  });

  test("with --json the error is one JSON object on stderr", async () => {
    const out = await runPhoton(["volume", "list", "--server", deadExport, "--token", "t", "--json"]);
    expect(out.code).toBe(1);
    expect(out.stdout).toBe("");
    expect(JSON.parse(out.stderr)).toEqual({
      error: { message: `cannot reach ${deadExport} (connection refused)`, hint: "is photon nbd-export running there? set --server or PHOTON_SERVER" },
    });
  });

  test("--log-level debug adds the stack trace, and only then", async () => {
    const plain = await runPhoton(["volume", "list", "--server", deadExport, "--token", "t"]);
    expect(hasStack(plain.stderr)).toBe(false);
    const debug = await runPhoton(["volume", "list", "--server", deadExport, "--token", "t", "--log-level", "debug"]);
    expect(debug.code).toBe(1);
    expect(debug.stderr).toContain("UnreachableError");
    expect(hasStack(debug.stderr)).toBe(true);
  });

  test("a server URL without a scheme is refused with the URL that works", async () => {
    const out = await runPhoton(["volume", "list", "--server", "127.0.0.1:7072", "--token", "t"]);
    expect(out.code).toBe(1);
    expect(out.stderr).toBe(`error: --server: "127.0.0.1:7072" is not a URL; write it with its scheme, e.g. http://127.0.0.1:7072\n`);
  });

  test("a refused request and a missing file are one line each; --json carries the HTTP status", async () => {
    const missing = await cli("volume", "show", "nope");
    expect(missing.code).toBe(1);
    expect(missing.stderr).toBe(`error: volume "nope" does not exist (404 from GET /v1/volumes/nope)\n`);
    const json = await cli("volume", "show", "nope", "--json");
    expect(JSON.parse(json.stderr)).toEqual({ error: { message: `volume "nope" does not exist (404 from GET /v1/volumes/nope)`, status: 404 } });
    const noFile = await cli("volume", "import", "x", "/nonexistent.img");
    expect(noFile.code).toBe(1);
    expect(noFile.stderr).toBe("error: FILE: /nonexistent.img is not a file\n");
    const badToken = await runPhoton(["volume", "list", "--server", ex.admin, "--token", "wrong"]);
    expect(badToken.stderr).toContain("(401 from GET /v1/volumes) — use the cluster's token");
  });
});

describe("usage", () => {
  test("help names the whole command, has no colour when piped, and client commands show only their options", async () => {
    const help = await runPhoton(["volume", "create", "--help"]);
    expect(help.code).toBe(0);
    expect(help.stdout).toContain("USAGE photon volume create [OPTIONS] <NAME>");
    expect(help.stdout).not.toContain("\x1b[");
    expect(help.stdout).not.toContain("--config");
    expect(help.stdout).toContain("--server");
    const server = await runPhoton(["nbd-export", "--help"]);
    expect(server.stdout).toContain("USAGE photon nbd-export");
    expect(server.stdout).toContain("--config");
    const unknown = await runPhoton(["volume", "frobnicate", "x"]);
    expect(unknown.stderr).not.toContain("\x1b[");
  });
});

describe("volume commands", () => {
  test("show prints human sizes and one URI per line; resize takes --size like create", async () => {
    expect((await cli("volume", "create", "v1", "--size", "1G")).code).toBe(0);
    const resized = await cli("volume", "resize", "v1", "--size", "2G");
    expect(resized.code).toBe(0);
    expect(resized.stdout).toMatch(/^size:\s+2\.0 GiB \(2147483648 bytes\)$/m);
    const shown = await cli("volume", "show", "v1");
    expect(shown.stdout).toMatch(/^uri \(tcp\):\s+nbd:\/\/127\.0\.0\.1:\d+\/v1$/m);
    expect(shown.stdout).toMatch(/^uri \(unix\):\s+nbd\+unix:\/\/\/v1\?socket=/m);
    expect(shown.stdout).not.toContain("{");
    const positional = await cli("volume", "resize", "v1", "3G", "--json");
    expect(JSON.parse(positional.stdout)).toMatchObject({ sizeBytes: 3 * 1024 ** 3 });
    const noSize = await cli("volume", "resize", "v1");
    expect(noSize.stderr).toBe("error: give the new size with --size, e.g. --size 20G\n");
  });
});

describe("s3 keys", () => {
  test("key create says the secret is shown once, on stderr so --json stays parseable", async () => {
    await using gw = await startGateway();
    const out = await runPhoton(["s3", "key", "create", "ci", "--server", gw.admin, "--json"], { env: { PHOTON_TOKEN: gw.token } });
    expect(out.code).toBe(0);
    expect(JSON.parse(out.stdout)).toHaveProperty("secretKey");
    expect(out.stderr).toContain("the secret key is shown only this once");
  });
});
