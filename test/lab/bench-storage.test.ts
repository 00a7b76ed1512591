import { expect, test } from "bun:test";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { XMLParser } from "fast-xml-parser";
import { buildGuest, guestDir } from "../helpers/guest.ts";
import { runPhoton, startPhoton, tempDir } from "../helpers/photon.ts";

const numericCell = /^\d+(\.\d+)?( MiB\/s| IOPS| s| MiB| objects\/s|×)?$/;

test(
  "bench-storage --quick on a three-node lab writes every table of the seed report with numbers, the JSON and valid SVG charts",
  async () => {
    await buildGuest();
    using dir = tempDir("photon-bench-lab-");
    using out = tempDir("photon-bench-out-");
    const labDir = join(dir.path, "lab");
    await using lab = startPhoton(["lab", "up", "--dir", labDir, "--nodes", "3"]);
    await lab.waitForLog((l) => l.msg === "started" && l.node === "node03" && l.mode === "agent", "node03's agent started");
    const markdown = join(out.path, "storage.md");
    const json = join(out.path, "data", "storage.json");
    const bench = await runPhoton(["lab", "bench-storage", "--dir", labDir, "--quick", "--guest-dir", guestDir, "--out", markdown, "--json", json]);
    expect({ code: bench.code, stderr: bench.stderr.slice(-3000) }).toEqual({ code: 0, stderr: expect.any(String) });
    // Progress is plain lines off a TTY: step n of m.
    expect(bench.stderr).toContain("[1/36] iperf3 node03 -> node01 (1 s)");

    const report = readFileSync(markdown, "utf8");
    expect(report).toContain("photon lab bench-storage --dir");
    for (const heading of ["## CoronaFS", "## LightningStor", "### Large-object path", "### Small-object batch", "### Parallel small-object batch", "## VM Image Path", "## VM Runtime Path", "## Assessment"]) {
      expect(report).toContain(`\n${heading}\n`);
    }
    const tables = report.split("\n\n").filter((b) => b.startsWith("| "));
    expect(tables).toHaveLength(11);
    for (const table of tables) {
      for (const row of table.split("\n").slice(2)) {
        const [, ...cells] = row.split("|").slice(1, -1).map((c) => c.trim());
        for (const cell of cells) expect(cell).toMatch(numericCell);
      }
    }
    expect(report).not.toContain("Not measured");
    expect(report).toContain("R = 3 copies per chunk, write quorum W = 2");

    const data = JSON.parse(readFileSync(json, "utf8")) as Record<"coronafs" | "lightningstor" | "vmImage" | "vmRuntime", { status: string; columns?: Record<string, Record<string, number>> }> & { assessment: string[] };
    for (const section of ["coronafs", "lightningstor", "vmImage", "vmRuntime"] as const) expect(data[section].status).toBe("measured");
    for (const column of Object.values(data.coronafs.columns!)) for (const value of Object.values(column)) expect(value).toBeGreaterThan(0);
    expect(data.assessment.length).toBeGreaterThan(10);

    const charts = readdirSync(out.path).filter((f) => f.endsWith(".svg")).sort();
    expect(charts).toEqual(["storage-coronafs.svg", "storage-s3.svg", "storage-seed.svg"]);
    for (const chart of charts) {
      expect(report).toContain(`](${chart})`);
      const svg = new XMLParser({ ignoreAttributes: false }).parse(readFileSync(join(out.path, chart), "utf8"), true) as { svg: unknown };
      expect(svg.svg).toBeDefined();
    }
    // Nothing of the run is left on the nodes: the local fio file and the volumes are gone.
    expect(readdirSync(join(labDir, "node03")).filter((f) => f.endsWith(".fio"))).toEqual([]);
    // …and neither are the VMs' images, volumes or bases, centrally or on the worker.
    const state = JSON.parse(readFileSync(join(labDir, "lab.json"), "utf8")) as { nbdAdminUrl: string; nodes: { agentUrl: string }[] };
    const env = { PHOTON_TOKEN: readFileSync(join(labDir, "node01", "cluster-token"), "utf8").trim() };
    for (const server of [state.nbdAdminUrl, ...state.nodes.map((n) => n.agentUrl)]) {
      const volumes = await runPhoton(["volume", "list", "--json", "--server", server], { env });
      expect(JSON.parse(volumes.stdout)).toEqual([]);
    }

    expect((await runPhoton(["lab", "down", "--dir", labDir])).code).toBe(0);
    expect(await lab.exited).toBe(0);
    expect(existsSync(join(labDir, "lab.json"))).toBe(false);
  },
  { timeout: 110_000 },
);
