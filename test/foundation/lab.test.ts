import { expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { NbdClient } from "../../src/coronafs/nbd/client.ts";
import { runPhoton, startPhoton, tempDir, waitFor } from "../helpers/photon.ts";

/** A port block that was free a moment ago. */
function freeBase(): number {
  const probe = Bun.listen({ hostname: "127.0.0.1", port: 0, socket: { data() {} } });
  const port = probe.port;
  probe.stop(true);
  return port > 60000 ? 40000 : port;
}

test("lab up runs every server mode, registers the nodes, serves volumes, and stops cleanly", async () => {
  using dir = tempDir("photon-lab-");
  const base = freeBase();
  const nbdPort = base + 5;
  await using lab = startPhoton(["lab", "up", "--dir", dir.path, "--nodes", "2", "--base-port", String(base), "--nbd-port", String(nbdPort)]);
  await lab.waitForLog((l) => l.msg === "started" && l.node === "node02", "node02 started");
  const token = readFileSync(join(dir.path, "node01", "cluster-token"), "utf8").trim();
  const env = { PHOTON_TOKEN: token };
  await waitFor(async () => {
    const out = await runPhoton(["node", "list", "--json", "--server", `http://127.0.0.1:${base}`], { env });
    const nodes = JSON.parse(out.stdout) as { name: string; state: string }[];
    return nodes.filter((n) => n.state === "up").length === 2;
  }, "two nodes up");
  const created = await runPhoton(["volume", "create", "labvol", "--size", "4M", "--server", `http://127.0.0.1:${base + 2}`], { env });
  expect(created.code).toBe(0);
  const client = await NbdClient.connect({ uri: `nbd://127.0.0.1:${nbdPort}/labvol` });
  expect(client.size).toBe(4 * 1024 * 1024);
  await client.close();
  expect(await lab.stop("SIGTERM")).toBe(0);
  expect(lab.lines.filter((l) => l.msg === "stopped" && l.code === 0)).toHaveLength(4);
});
