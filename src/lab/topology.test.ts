import { describe, expect, test } from "bun:test";
import { computeTopology, inSubnet, labId, maxInterfaceName, parseSubnet, pickSubnet, subnetAt } from "./topology.ts";

const netns = { dir: "/tmp/lab-a", nodes: 5, network: "netns", subnet: "198.18.7.0/24", basePort: 7070, nbdPort: 10809, s3Port: 9000 } as const;

describe("lab topology", () => {
  test("netns: node N at .10+N in its own namespace, the host at .1 on the lab's bridge", () => {
    const t = computeTopology(netns);
    expect(t.nodes.map((n) => n.address)).toEqual(["198.18.7.11", "198.18.7.12", "198.18.7.13", "198.18.7.14", "198.18.7.15"]);
    expect(t.hostAddress).toBe("198.18.7.1");
    expect(t.nodes[1]).toMatchObject({ name: "node02", netns: `photon-${t.id}-node02`, vethHost: `ph${t.id}n02`, vethNode: "eth0", dataDir: "/tmp/lab-a/node02" });
    expect(t.bridge).toBe(`phbr${t.id}`);
  });

  test("every interface name fits Linux's 15 characters", () => {
    const t = computeTopology({ ...netns, nodes: 16 });
    for (const name of [t.bridge!, ...t.nodes.flatMap((n) => [n.vethHost!, n.vethNode!])]) expect(name.length).toBeLessThanOrEqual(maxInterfaceName);
  });

  test("two lab dirs get different names; the same dir always the same", () => {
    const a = computeTopology(netns);
    const b = computeTopology({ ...netns, dir: "/tmp/lab-b" });
    expect(a.id).not.toBe(b.id);
    expect(a.id).toBe(labId("/tmp/lab-a"));
    expect(a.id).toMatch(/^[0-9a-f]{6}$/);
    expect(b.bridge).not.toBe(a.bridge);
    expect(b.nodes[0]!.netns).not.toBe(a.nodes[0]!.netns);
  });

  test("services bind their node's address; the gateway stores on every agent; agents advertise their own address", () => {
    const t = computeTopology(netns);
    expect(t.services.map((s) => `${s.node} ${s.mode}`)).toEqual([
      "node01 nbd-export",
      "node01 s3-gateway",
      "node01 controller",
      ...t.nodes.map((n) => `${n.name} agent`),
    ]);
    expect(t.controllerUrl).toBe("http://198.18.7.11:7070");
    expect(t.nbdAdminUrl).toBe("http://198.18.7.11:7072");
    expect(t.s3AdminUrl).toBe("http://198.18.7.11:7073");
    expect(t.nbdUrl).toBe("nbd://198.18.7.11:10809");
    expect(t.s3Url).toBe("http://198.18.7.11:9000");
    const gateway = t.services.find((s) => s.mode === "s3-gateway")!;
    expect(gateway.args[gateway.args.indexOf("--controller") + 1]).toBe(t.controllerUrl);
    expect(gateway.listens).toEqual([{ host: "198.18.7.11", port: 7073 }, { host: "198.18.7.11", port: 9000 }]);
    const controller = t.services.find((s) => s.mode === "controller")!;
    expect(controller.args.slice(4)).toEqual(["--coronafs", t.nbdAdminUrl, "--s3-endpoint", t.s3Url, "--s3-key-file", "/tmp/lab-a/node01/root-key", "--s3-admin", t.s3AdminUrl]);
    const agent3 = t.services.find((s) => s.node === "node03")!;
    expect(agent3.args).toEqual(["--data-dir", "/tmp/lab-a/node03", "--listen", "198.18.7.13:7071", "--advertise", "198.18.7.13:7071", "--controller", "http://198.18.7.11:7070", "--name", "node03"]);
    expect(agent3.healthUrl).toBe("http://198.18.7.13:7071/healthz");
    for (const s of t.services) expect(s.args.slice(0, 2)).toEqual(["--data-dir", `/tmp/lab-a/${s.node}`]);
  });

  test("tls: the central export requires NBD TLS with node01's certificate and verifies nbds:// sources with the lab CA", () => {
    const t = computeTopology({ ...netns, tls: true });
    expect(t.nbdUrl).toBe("nbds://198.18.7.11:10809");
    const exporter = t.services.find((s) => s.mode === "nbd-export")!;
    const arg = (flag: string) => exporter.args[exporter.args.indexOf(flag) + 1];
    expect([arg("--tls"), arg("--tls-cert"), arg("--tls-key"), arg("--ca")]).toEqual(["require", "/tmp/lab-a/tls/node01.pem", "/tmp/lab-a/tls/node01-key.pem", "/tmp/lab-a/tls/ca.pem"]);
    for (const agent of t.services.filter((s) => s.mode === "agent")) expect(agent.args[agent.args.indexOf("--ca") + 1]).toBe("/tmp/lab-a/tls/ca.pem");
    expect(computeTopology(netns).services.find((s) => s.mode === "nbd-export")!.args).not.toContain("--tls");
  });

  test("loopback: node N binds 127.0.1.N and has no namespace", () => {
    const t = computeTopology({ ...netns, network: "loopback", subnet: undefined, nodes: 3, basePort: 21000 });
    expect(t.nodes.map((n) => n.address)).toEqual(["127.0.1.1", "127.0.1.2", "127.0.1.3"]);
    expect(t.nodes.every((n) => n.netns === undefined && n.vethHost === undefined)).toBe(true);
    expect(t.bridge).toBeUndefined();
    expect(t.controllerUrl).toBe("http://127.0.1.1:21000");
    expect(t.nodes[2]!.agentUrl).toBe("http://127.0.1.3:21001");
  });
});

describe("lab subnet", () => {
  test("accepts the /24s of 198.18.0.0/15 only", () => {
    expect(parseSubnet("198.18.0.0/24")).toBe(0);
    expect(parseSubnet("198.19.255.0/24")).toBe(511);
    expect(subnetAt(300)).toBe("198.19.44.0/24");
    for (const bad of ["10.0.0.0/24", "198.20.0.0/24", "198.18.1.0/16", "198.18.256.0/24", "198.18.1.5/24"]) expect(() => parseSubnet(bad)).toThrow("--subnet");
  });

  test("the default skips every /24 an address on the host is in", () => {
    const id = "000007"; // starts at index 7
    expect(pickSubnet(id, [])).toBe("198.18.7.0/24");
    expect(pickSubnet(id, ["127.0.0.1", "198.18.7.1", "198.18.8.1", "192.0.2.2"])).toBe("198.18.9.0/24");
    expect(pickSubnet("0001ff", ["198.19.255.1"])).toBe("198.18.0.0/24");
    expect(inSubnet("198.18.9.14", "198.18.9.0/24")).toBe(true);
    expect(inSubnet("198.18.10.14", "198.18.9.0/24")).toBe(false);
  });
});

describe("lab metadata", () => {
  test("--metadata postgres: PostgreSQL on node01 first, a gateway on node01 and node02 each, the password only in their environment", () => {
    const t = computeTopology({ ...netns, metadata: "postgres", postgresPassword: "s3cret" });
    expect(t.services.map((s) => `${s.node} ${s.mode}`)).toEqual([
      "node01 postgres",
      "node01 nbd-export",
      "node01 s3-gateway",
      "node02 s3-gateway",
      "node01 controller",
      ...t.nodes.map((n) => `${n.name} agent`),
    ]);
    const postgres = t.services[0]!;
    expect(postgres.listens).toEqual([{ host: "198.18.7.11", port: 7074 }]);
    expect(postgres.command!.slice(postgres.command!.indexOf("-D"), postgres.command!.indexOf("-D") + 2)).toEqual(["-D", "/tmp/lab-a/node01/postgres/data"]);
    expect(postgres.healthUrl).toBe("postgres://photon@localhost:7074/postgres?host=/tmp/lab-a/node01/postgres");
    expect(t.gateways).toEqual([
      { node: "node01", s3Url: "http://198.18.7.11:9000", adminUrl: "http://198.18.7.11:7073" },
      { node: "node02", s3Url: "http://198.18.7.12:9000", adminUrl: "http://198.18.7.12:7073" },
    ]);
    const metadata = t.services.filter((s) => s.env).map((s) => `${s.node} ${s.mode} ${s.env!.PHOTON_METADATA}`);
    expect(metadata).toEqual([
      "node01 s3-gateway postgres://photon:s3cret@198.18.7.11:7074/photon_s3",
      "node02 s3-gateway postgres://photon:s3cret@198.18.7.11:7074/photon_s3",
      "node01 controller postgres://photon:s3cret@198.18.7.11:7074/photon_controller",
    ]);
    expect(t.services.some((s) => [...s.args, ...(s.command ?? [])].join(" ").includes("s3cret"))).toBe(false);
  });

  test("the default (SQLite) lab has one gateway and no PostgreSQL", () => {
    const t = computeTopology(netns);
    expect(t.postgres).toBeUndefined();
    expect(t.gateways.map((g) => g.node)).toEqual(["node01"]);
    expect(t.services.filter((s) => s.env !== undefined)).toEqual([]);
  });
});
