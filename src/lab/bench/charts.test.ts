import { describe, expect, test } from "bun:test";
import { XMLParser } from "fast-xml-parser";
import { renderCharts } from "./charts.ts";
import { recordedRun } from "./testdata/fixture.ts";

type Node = Record<string, unknown>;
const parser = new XMLParser({ ignoreAttributes: false, attributeNamePrefix: "", isArray: (name) => name === "g" || name === "rect" || name === "text" || name === "line" });

/** Parses an SVG document (throws on malformed XML) and returns its series: name → category → value. */
function series(svg: string): Map<string, Map<string, number>> {
  const doc = parser.parse(svg, true) as { svg: Node & { g?: Node[] } };
  expect(doc.svg.xmlns).toBe("http://www.w3.org/2000/svg");
  const out = new Map<string, Map<string, number>>();
  for (const g of doc.svg.g ?? []) {
    const bars = new Map<string, number>();
    for (const rect of (g.rect ?? []) as Node[]) bars.set(String(rect["data-category"]), Number(rect["data-value"]));
    out.set(String(g["data-series"]), bars);
  }
  return out;
}

describe("the charts", () => {
  const charts = renderCharts(recordedRun());

  test("CoronaFS: each export as a share of local disk, one bar per fio job", () => {
    const s = series(charts.coronafs!);
    expect([...s.keys()]).toEqual(["Controller export", "Node-local export", "nbdkit (same worker)"]);
    expect(s.get("Controller export")!.size).toBe(6);
    expect(s.get("Controller export")!.get("Sequential read")).toBeCloseTo(1123.88 / 3727.27, 3);
    expect(s.get("Node-local export")!.get("4k random read")).toBeCloseTo(32799 / 726172, 3);
  });

  test("S3: six throughputs against a reference line at the TCP baseline", () => {
    const svg = charts.s3!;
    const s = series(svg);
    expect([...s.keys()]).toEqual(["LightningStor"]);
    expect(s.get("LightningStor")!.get("Large object GET")).toBeCloseTo(145.58, 1);
    expect(s.get("LightningStor")!.size).toBe(6);
    const doc = parser.parse(svg) as { svg: { line: Node[] } };
    expect(Number(doc.svg.line.find((l) => l.class === "reference")!["data-value"])).toBeCloseTo(1281.12, 1);
  });

  test("the seed comparison has this run and the seed for every ratio the seed states", () => {
    const s = series(charts.seed!);
    expect([...s.keys()]).toEqual(["This run", "Seed"]);
    expect(s.get("This run")!.size).toBe(12);
    expect(s.get("Seed")!.get("Controller seq read / TCP")).toBeCloseTo(42.7 / 45.92, 4);
  });

  test("a section not measured has no chart, and labels are escaped", () => {
    const run = recordedRun();
    run.coronafs = { status: "not measured", reason: "failed" };
    run.lightningstor = { status: "measured", ...(recordedRun().lightningstor as object), client: "node<03>&" } as typeof run.lightningstor;
    const out = renderCharts(run);
    expect(out.coronafs).toBeUndefined();
    expect(out.s3).toContain("node&lt;03&gt;&amp;");
    series(out.s3!);
  });
});
