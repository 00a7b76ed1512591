import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { join } from "node:path";
import { startAgent, startController, type TestController } from "../helpers/cluster.ts";
import { authed, tempDir, waitFor, type PhotonProcess } from "../helpers/photon.ts";

const dir = tempDir();
let c: TestController;
let agent: PhotonProcess;

beforeAll(async () => {
  c = await startController(join(dir.path, "ctl"));
  agent = await startAgent(c, join(dir.path, "agent"), "api-node");
});
afterAll(async () => {
  await agent.stop();
  await c.proc.stop();
  dir[Symbol.dispose]();
});

const validReport = {
  name: "manual",
  advertise: "127.0.0.1:7071",
  roles: ["storage"],
  capacity: { cpus: 2, memoryBytes: 1 << 30, diskBytes: 1 << 30, diskFreeBytes: 1 << 29 },
  version: "test",
};

async function expectProblem(res: Response, status: number, type: string) {
  expect(res.status).toBe(status);
  expect(res.headers.get("content-type")).toBe("application/problem+json");
  const body = (await res.json()) as { type: string; status: number; detail?: string; field?: string };
  expect(body.type).toEndWith(`/${type}`);
  expect(body.status).toBe(status);
  return body;
}

describe("admin API security", () => {
  test("/healthz is open", async () => {
    const res = await fetch(`${c.url}/healthz`);
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ status: "ok" });
  });

  test("a missing token is a 401 problem on /v1 and /metrics of the controller and the agent", async () => {
    const agentUrl = await agent.url();
    for (const url of [`${c.url}/v1/nodes`, `${c.url}/metrics`, `${agentUrl}/v1/node`, `${agentUrl}/metrics`]) {
      const body = await expectProblem(await fetch(url), 401, "unauthorized");
      expect(body.detail).toContain("missing");
    }
  });

  test("a wrong token is refused and registers nothing", async () => {
    const res = await fetch(`${c.url}/v1/nodes`, authed(c.token + "x", { method: "POST", body: JSON.stringify(validReport) }));
    await expectProblem(res, 401, "unauthorized");
    const list = (await (await fetch(`${c.url}/v1/nodes`, authed(c.token))).json()) as { nodes: { name: string }[] };
    expect(list.nodes.map((n) => n.name)).not.toContain("manual");
  });

  test("the token never appears in any log line", () => {
    for (const proc of [c.proc, agent]) expect(proc.rawStderr.join("")).not.toContain(c.token);
  });
});

describe("request validation", () => {
  const post = (body: string) => fetch(`${c.url}/v1/nodes`, authed(c.token, { method: "POST", body, headers: { "content-type": "application/json" } }));

  test("malformed JSON is a 400 problem", async () => {
    const body = await expectProblem(await post("{not json"), 400, "bad-request");
    expect(body.detail).toContain("JSON");
  });

  test("a wrong type is a 400 naming the field", async () => {
    const bad = { ...validReport, capacity: { ...validReport.capacity, cpus: "two" } };
    const body = await expectProblem(await post(JSON.stringify(bad)), 400, "invalid-field");
    expect(body.field).toBe("capacity.cpus");
  });

  test("a missing field and an invalid name are named too", async () => {
    const { advertise: _, ...missing } = validReport;
    expect((await expectProblem(await post(JSON.stringify(missing)), 400, "invalid-field")).field).toBe("advertise");
    const badName = { ...validReport, name: "Bad Name!" };
    expect((await expectProblem(await post(JSON.stringify(badName)), 400, "invalid-field")).field).toBe("name");
  });

  test("unknown routes and unknown nodes are 404 problems", async () => {
    await expectProblem(await fetch(`${c.url}/v1/nope`, authed(c.token)), 404, "not-found");
    await expectProblem(await fetch(`${c.url}/nowhere`), 404, "not-found");
    await expectProblem(await fetch(`${c.url}/v1/nodes/ghost`, authed(c.token)), 404, "not-found");
  });
});

describe("metrics", () => {
  test("count requests by route and status and nodes by state", async () => {
    await fetch(`${c.url}/v1/nodes/ghost`, authed(c.token));
    const heartbeats = /photon_http_requests_total\{method="POST",route="\/v1\/nodes\/:node\/heartbeat",status="200"\} [1-9]/;
    const text = await waitFor(async () => {
      const body = await (await fetch(`${c.url}/metrics`, authed(c.token))).text();
      return heartbeats.test(body) && body;
    }, "a heartbeat counted");
    expect(text).toMatch(/photon_http_requests_total\{method="GET",route="\/v1\/nodes\/:node",status="404"\} [1-9]/);
    expect(text).toMatch(/photon_http_request_duration_seconds_bucket\{le="\+Inf",method="GET",route="\/v1\/nodes\/:node"\} [1-9]/);
    expect(text).toMatch(/photon_nodes\{state="up"\} [1-9]/);
  });
});
