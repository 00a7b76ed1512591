import { describe, expect, test } from "bun:test";
import { renderReport } from "./report.ts";
import { recordedRun } from "./testdata/fixture.ts";

/** The rows of every markdown table in `text`, split into cells (header and separator rows dropped). */
function tables(text: string): string[][][] {
  const blocks = text.split("\n\n").filter((b) => b.startsWith("| "));
  return blocks.map((b) => b.split("\n").slice(2).map((row) => row.split("|").slice(1, -1).map((c) => c.trim())));
}

const numeric = /^\d+(\.\d+)?( MiB\/s| IOPS| s| MiB| objects\/s|×)?$/;

describe("the markdown report", () => {
  const report = renderReport(recordedRun(), { coronafs: "storage-coronafs.svg", s3: "storage-s3.svg", seed: "storage-seed.svg" });

  test("has the seed's sections in its order, the date and the exact command", () => {
    const headings = report.split("\n").filter((l) => l.startsWith("#"));
    expect(headings).toEqual([
      "# Storage Benchmarks", "## CoronaFS", "## LightningStor", "### Large-object path", "### Small-object batch",
      "### Parallel small-object batch", "## VM Image Path", "## VM Runtime Path", "## Charts", "## Assessment",
    ]);
    expect(report).toContain("Generated on 2026-11-30T06:32:19.559Z with:");
    expect(report).toContain("photon lab bench-storage --dir /tmp/wt-bench-lab --quick --out /tmp/wt-bench-q/storage.md");
  });

  test("every table holds a numeric value in every result cell", () => {
    const all = tables(report);
    // two baselines, two fio tables, nbdkit, materialization, large object, batch, parallel batch
    expect(all).toHaveLength(9);
    for (const rows of all) {
      expect(rows.length).toBeGreaterThan(0);
      for (const [, ...cells] of rows) for (const cell of cells) expect(cell).toMatch(numeric);
    }
  });

  test("the CoronaFS tables show the three columns with the recorded values", () => {
    expect(report).toContain("| Sequential read | 3727.27 MiB/s | 1123.88 MiB/s | 2493.51 MiB/s |");
    expect(report).toContain("| 4k random read | 726172 IOPS | 11686 IOPS | 32799 IOPS |");
    expect(report).toContain("fio settings, the same for all three columns: buffered I/O");
  });

  test("holds the node-local export against nbdkit on the same worker, with the ratio", () => {
    expect(report).toContain("| Sequential read | 2493.51 MiB/s | 2650.00 MiB/s | 0.94× |");
  });

  test("states R and W of the gateway and says why the VM sections are empty", () => {
    expect(report).toContain("R = 3 copies per chunk, write quorum W = 2");
    expect(report).toContain("## VM Image Path\n\nNot measured: PlasmaVMC not available");
  });

  test("links the charts", () => {
    expect(report).toContain("](storage-coronafs.svg)");
    expect(report).toContain("](storage-s3.svg)");
    expect(report).toContain("](storage-seed.svg)");
  });

  test("a section that failed says so instead of a table", () => {
    const run = recordedRun();
    run.lightningstor = { status: "not measured", reason: "S3 from node03: 16 MiB object up and down failed: 503" };
    const text = renderReport(run);
    expect(text).toContain("Not measured: S3 from node03: 16 MiB object up and down failed: 503.");
    expect(text).not.toContain("### Large-object path");
  });
});
