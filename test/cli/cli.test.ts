import { describe, expect, test } from "bun:test";
import { copyFileSync, readdirSync, statSync } from "node:fs";
import { join } from "node:path";
import { startAgent, startController } from "../helpers/cluster.ts";
import { photonBinary, runPhoton, startPhoton, tempDir, waitFor } from "../helpers/photon.ts";

describe("one binary", () => {
  test("runs alone from an empty directory: init, controller, node list", async () => {
    using dir = tempDir();
    const binary = join(dir.path, "photon");
    copyFileSync(photonBinary, binary);
    expect(readdirSync(dir.path)).toEqual(["photon"]);
    const opts = { binary, cwd: dir.path };

    const version = await runPhoton(["--version"], opts);
    expect(version.code).toBe(0);
    expect(version.stdout.trim()).toBe((await Bun.file("package.json").json()).version);

    const init = await runPhoton(["init", "--data-dir", "data", "--json"], opts);
    expect(init.code).toBe(0);
    const initOut = JSON.parse(init.stdout) as { tokenFile: string; created: boolean };
    expect(initOut.created).toBe(true);
    expect(statSync(initOut.tokenFile).mode & 0o777).toBe(0o600);

    await using controller = startPhoton(["controller", "--data-dir", "data", "--listen", "127.0.0.1:0"], opts);
    const url = await controller.url();
    const list = await runPhoton(["node", "list", "--server", url, "--data-dir", "data", "--json"], opts);
    expect(list.code).toBe(0);
    expect(JSON.parse(list.stdout)).toEqual([]);
    expect(await controller.stop()).toBe(0);
    expect(controller.lines.map((l) => l.msg)).toContain("stopped");
  });

  test("--help works on every command", async () => {
    for (const cmd of [[], ["init"], ["controller"], ["agent"], ["node"], ["node", "list"], ["node", "show"], ["node", "drain"], ["node", "remove"], ["nbd-export"], ["volume"], ["volume", "create"], ["volume", "import"], ["volume", "uri"], ["lab"], ["lab", "up"], ["s3-gateway"], ["s3"], ["s3", "key"], ["s3", "key", "create"]]) {
      const out = await runPhoton([...cmd, "--help"]);
      expect(out.code).toBe(0);
      expect(out.stdout).toContain("USAGE");
    }
  });

  test("usage mistakes and unreachable servers exit non-zero with one error line", async () => {
    using dir = tempDir();
    const unknown = await runPhoton(["frobnicate"]);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toContain("Unknown command");
    const noToken = await runPhoton(["node", "list", "--data-dir", dir.path]);
    expect(noToken.code).toBe(1);
    expect(noToken.stderr).toContain("no cluster token");
    const badListen = await runPhoton(["controller", "--data-dir", dir.path, "--listen", "nowhere"]);
    expect(badListen.code).toBe(1);
    expect(badListen.stderr).toContain("--listen");
  });
});

describe("node commands", () => {
  test("list, show, drain and remove print tables and parseable --json", async () => {
    using dir = tempDir();
    const c = await startController(join(dir.path, "ctl"));
    await using controller = c.proc;
    await using agent = await startAgent(c, join(dir.path, "agent"), "node07");
    const cli = (...args: string[]) => runPhoton([...args, "--server", c.url], { env: { PHOTON_TOKEN: c.token } });
    await waitFor(async () => (await cli("node", "show", "node07")).code === 0, "node07 registered");

    const table = await cli("node", "list");
    expect(table.stdout.split("\n")[0]).toMatch(/^NAME\s+STATE\s+SCHEDULING/);
    expect(table.stdout).toMatch(/node07\s+up\s+active/);

    const drained = JSON.parse((await cli("node", "drain", "node07", "--json")).stdout) as { scheduling: string };
    expect(drained.scheduling).toBe("drained");
    const shown = JSON.parse((await cli("node", "show", "node07", "--json")).stdout) as { scheduling: string; name: string };
    expect(shown).toMatchObject({ name: "node07", scheduling: "drained" });
    const undrained = JSON.parse((await cli("node", "drain", "node07", "--undo", "--json")).stdout) as { scheduling: string };
    expect(undrained.scheduling).toBe("active");

    await agent.stop();
    expect((await cli("node", "remove", "node07")).code).toBe(0);
    const missing = await cli("node", "show", "node07");
    expect(missing.code).toBe(1);
    expect(missing.stderr).toContain("does not exist");
    void controller;
  });

  test("flag beats environment beats config file", async () => {
    using dir = tempDir();
    const c = await startController(join(dir.path, "ctl"));
    await using controller = c.proc;
    const config = join(dir.path, "photon.toml");
    await Bun.write(config, `server = "http://127.0.0.1:1"\ntoken = "from-file"\n`);
    const base = ["node", "list", "--json"];
    // The config file alone points at a dead server with a wrong token (client commands take it from PHOTON_CONFIG).
    // (Whole results are compared, so that a failure shows what the command printed.)
    const fileOnly = await runPhoton(base, { env: { PHOTON_CONFIG: config } });
    expect(fileOnly).toMatchObject({ code: 1, stderr: expect.stringContaining("cannot reach http://127.0.0.1:1") });
    // The environment overrides the file's server but not its token: 401.
    const envOnly = await runPhoton(base, { env: { PHOTON_CONFIG: config, PHOTON_SERVER: c.url } });
    expect(envOnly).toMatchObject({ code: 1, stderr: expect.stringContaining("401") });
    // Flags override both.
    const flagged = await runPhoton([...base, "--token", c.token], { env: { PHOTON_CONFIG: config, PHOTON_SERVER: c.url, PHOTON_TOKEN: "from-env" } });
    expect(flagged).toMatchObject({ code: 0, stdout: "[]\n" });
    void controller;
  });
});

describe("shutdown", () => {
  test("SIGTERM and SIGINT stop the controller cleanly and its data stays readable", async () => {
    using dir = tempDir();
    for (const signal of ["SIGTERM", "SIGINT"] as const) {
      const c = await startController(join(dir.path, "ctl"));
      await using proc = c.proc;
      const res = await fetch(`${c.url}/v1/nodes`, { headers: { authorization: `Bearer ${c.token}` } });
      expect(res.status).toBe(200);
      expect(await proc.stop(signal)).toBe(0);
      const msgs = c.proc.lines.map((l) => l.msg);
      expect(msgs).toContain("shutting down");
      expect(msgs.at(-1)).toBe("stopped");
    }
  });
});
