import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { join } from "node:path";
import { privateLoopback, startAgent, startController, type TestController } from "../helpers/cluster.ts";
import { authed, runPhoton, tempDir, waitFor, type PhotonProcess } from "../helpers/photon.ts";
import { sharedPostgres, startPostgres, type TestPostgres } from "../helpers/postgres.ts";

const token = `failover-${crypto.randomUUID()}`;

interface NodeJson {
  name: string;
  state: string;
  lastHeartbeatAt: string;
}

/** Whether the controller at `url` is the active one, by its `/healthz` and its `/v1` answer. */
async function role(url: string): Promise<"active" | "standby"> {
  const health = (await (await fetch(`${url}/healthz`)).json()) as { status: string };
  const v1 = await fetch(`${url}/v1/nodes`, authed(token));
  await v1.body?.cancel();
  if (health.status === "ok" && v1.status === 200) return "active";
  if (health.status === "standby" && v1.status === 503) return "standby";
  throw new Error(`${url} is neither: /healthz ${health.status}, /v1/nodes ${v1.status}`);
}

/**
 * `photon image create --from FILE` against `servers`: a streamed body, sent
 * once, to the server that answers as active. These controllers have no S3
 * endpoint for artifacts, so the active one refuses it with that reason.
 */
async function uploadImage(servers: string, dir: string): Promise<string> {
  const file = join(dir, "image.raw");
  await Bun.write(file, new Uint8Array(64 * 1024));
  const { code, stderr } = await runPhoton(["image", "create", "up", "--from", file, "--server", servers], { env: { PHOTON_TOKEN: token } });
  expect(code).toBe(1);
  return stderr;
}

/** `photon node list --json` against `servers` (comma-separated). */
async function nodeList(servers: string): Promise<NodeJson[]> {
  const { code, stdout, stderr } = await runPhoton(["node", "list", "--server", servers, "--json"], { env: { PHOTON_TOKEN: token } });
  if (code !== 0) throw new Error(`node list --server ${servers} failed (${code}): ${stderr}`);
  return JSON.parse(stdout) as NodeJson[];
}

async function getNode(url: string, name: string): Promise<NodeJson> {
  return (await (await fetch(`${url}/v1/nodes/${name}`, authed(token))).json()) as NodeJson;
}

describe("two controllers on one PostgreSQL", () => {
  const dir = tempDir();
  let database: string;
  const controllers: TestController[] = [];
  let agent: PhotonProcess;
  const start = (name: string, listen: string) => startController(join(dir.path, name), ["--metadata", database, "--token", token, "--node-timeout", "3000"], listen);

  beforeAll(async () => {
    database = await sharedPostgres().createDatabase();
    controllers.push(await start("a", privateLoopback()));
    controllers.push(await start("b", privateLoopback()));
  });
  afterAll(async () => {
    await agent?.stop();
    for (const c of controllers) await c.proc.stop("SIGKILL");
    dir[Symbol.dispose]();
  });

  test("exactly one is active; the other is a standby answering 503 standby on /v1 and 0 on photon_controller_active", async () => {
    const roles = await Promise.all(controllers.map((c) => role(c.url)));
    expect(roles.toSorted()).toEqual(["active", "standby"]);
    const standby = controllers[roles.indexOf("standby")]!;
    const refused = await fetch(`${standby.url}/v1/nodes`, authed(token));
    expect(refused.headers.get("content-type")).toBe("application/problem+json");
    expect(((await refused.json()) as { type: string }).type).toEndWith("/standby");
    const metrics = await (await fetch(`${standby.url}/metrics`, authed(token))).text();
    expect(metrics).toMatch(/^photon_controller_active 0$/m);
    const active = controllers[roles.indexOf("active")]!;
    expect(await (await fetch(`${active.url}/metrics`, authed(token))).text()).toMatch(/^photon_controller_active 1$/m);
  });

  test("an upload given the standby first goes to the active one", async () => {
    const roles = await Promise.all(controllers.map((c) => role(c.url)));
    const servers = [controllers[roles.indexOf("standby")]!.url, controllers[roles.indexOf("active")]!.url].join(",");
    expect(await uploadImage(servers, dir.path)).toContain("the controller has no S3 endpoint for image artifacts");
  });

  test("an agent given both URLs registers, and the CLI given both lists it, standby first or last", async () => {
    const both = controllers.map((c) => c.url).join(",");
    // A heartbeat a second (the default is 5 s): a takeover must not mark the node down before its next one reaches the new active controller.
    agent = await startAgent({ url: both, token }, join(dir.path, "agent"), "fo-node", 0, ["--heartbeat-interval", "1000"]);
    await waitFor(async () => (await nodeList(both)).some((n) => n.name === "fo-node" && n.state === "up"), "fo-node registered");
    const reversed = controllers.map((c) => c.url).toReversed().join(",");
    expect((await nodeList(reversed)).map((n) => n.name)).toContain("fo-node");
  });

  test("kill -9 the active one: the standby takes over, the agent keeps heartbeating to it, the node stays up", async () => {
    const both = controllers.map((c) => c.url).join(",");
    const roles = await Promise.all(controllers.map((c) => role(c.url)));
    const dead = controllers[roles.indexOf("active")]!;
    const survivor = controllers[roles.indexOf("standby")]!;
    const before = await getNode(dead.url, "fo-node");
    expect(before.state).toBe("up");

    await dead.proc.stop("SIGKILL");
    await survivor.proc.waitForLog((l) => l.msg.startsWith("this controller is active"), "the standby taking over");
    expect(await role(survivor.url)).toBe("active");
    const after = await waitFor(async () => {
      const node = await getNode(survivor.url, "fo-node");
      return Date.parse(node.lastHeartbeatAt) > Date.parse(before.lastHeartbeatAt) ? node : undefined;
    }, "a heartbeat recorded by the new active controller");
    expect(after.state).toBe("up");
    // Another second of heartbeats: the node is still up, and the new controller never judged it down.
    await Bun.sleep(1_000);
    expect((await getNode(survivor.url, "fo-node")).state).toBe("up");
    expect(survivor.proc.lines.filter((l) => l.msg.startsWith("node down"))).toEqual([]);
    expect(agent.lines.some((l) => l.msg === "controller does not know this node; registering again")).toBe(false);

    expect((await nodeList(both)).find((n) => n.name === "fo-node")?.state).toBe("up");
  });

  test("the killed controller, restarted on its address, comes back as a standby", async () => {
    const deadIndex = controllers.findIndex((c) => c.proc.proc.signalCode === "SIGKILL");
    const dead = controllers[deadIndex]!;
    const restarted = await start(dead.dataDir.endsWith("/a") ? "a" : "b", new URL(dead.url).host);
    controllers[deadIndex] = restarted;
    await restarted.proc.waitForLog((l) => l.msg.startsWith("this controller is a standby"), "the restarted controller standing by");
    expect(await role(restarted.url)).toBe("standby");
    expect(await role(controllers[1 - deadIndex]!.url)).toBe("active");
    expect((await nodeList(controllers.map((c) => c.url).join(","))).map((n) => n.name)).toContain("fo-node");
  });

  test("a controller stopped with SIGTERM gives up its lease: the standby takes over and serves", async () => {
    const roles = await Promise.all(controllers.map((c) => role(c.url)));
    const active = controllers[roles.indexOf("active")]!;
    const standby = controllers[roles.indexOf("standby")]!;
    expect(await active.proc.stop()).toBe(0);
    await waitFor(async () => (await role(standby.url)) === "active", "the standby taking over");
    expect((await nodeList(controllers.map((c) => c.url).join(","))).map((n) => n.name)).toContain("fo-node");
  });
});

describe("a controller whose PostgreSQL goes away", () => {
  const dir = tempDir();
  let pg: TestPostgres;
  let c: TestController;
  beforeAll(async () => {
    pg = startPostgres();
    c = await startController(join(dir.path, "ctl"), ["--metadata", await pg.createDatabase(), "--token", token]);
  });
  afterAll(async () => {
    await c.proc.stop("SIGKILL");
    pg.stop();
    dir[Symbol.dispose]();
  });

  test("steps down (503 standby) once its lease runs out unrenewed, and is active again when the database is back", async () => {
    expect(await role(c.url)).toBe("active");
    pg.stopServer();
    await c.proc.waitForLog((l) => l.msg.startsWith("this controller is a standby"), "the controller stepping down");
    expect(await role(c.url)).toBe("standby");
    pg.startServer();
    await waitFor(async () => (await role(c.url)) === "active", "the controller active again");
    expect(await nodeList(c.url)).toEqual([]);
  });
});

describe("a client given several URLs", () => {
  const dir = tempDir();
  let c: TestController;
  beforeAll(async () => {
    c = await startController(join(dir.path, "sqlite"), ["--metadata", "sqlite", "--token", token]);
  });
  afterAll(async () => {
    await c.proc.stop();
    dir[Symbol.dispose]();
  });

  test("skips a dead first URL and uses the next (SQLite controller)", async () => {
    const dead = `http://${privateLoopback()}`;
    expect(await role(c.url)).toBe("active");
    expect(await nodeList(`${dead},${c.url}`)).toEqual([]);
    expect(await uploadImage(`${dead},${c.url}`, dir.path)).toContain("the controller has no S3 endpoint for image artifacts");
  });

  test("names every URL when none answers", async () => {
    const dead = [`http://${privateLoopback()}`, `http://${privateLoopback()}`];
    const { code, stderr } = await runPhoton(["node", "list", "--server", dead.join(",")], { env: { PHOTON_TOKEN: token } });
    expect(code).toBe(1);
    expect(stderr).toContain(`cannot reach any of ${dead[0]} (connection refused), ${dead[1]} (connection refused)`);
  });

  test("a list naming no URL is a usage error", async () => {
    const { code, stderr } = await runPhoton(["node", "list", "--server", " , "], { env: { PHOTON_TOKEN: token } });
    expect(code).not.toBe(0);
    expect(stderr).toContain("names no URL");
  });
});
