import { figuresOf } from "./figures.ts";
import { mibps, pct } from "./format.ts";
import { SEED_RATIOS } from "./ratios.ts";
import { jobLabels } from "./job-labels.ts";
import { fioJobKeys, measured, type BenchResult } from "./result.ts";
import { SEED_FIGURES } from "./seed.ts";
import { barChart } from "./svg-bar-chart.ts";

/** The report's charts as SVG text; a chart whose data was not measured is undefined. */
export interface Charts {
  coronafs?: string;
  s3?: string;
  seed?: string;
}


/** Each CoronaFS path against local disk; S3 against the link baseline; this run's ratios beside the seed's. */
export function renderCharts(result: BenchResult): Charts {
  const f = figuresOf(result);
  const charts: Charts = {};
  const corona = result.coronafs;
  if (measured(corona)) {
    const vsLocal = (column: "controller" | "nodeLocal") => fioJobKeys.map((k) => corona.columns[column][k] / corona.columns.local[k]);
    charts.coronafs = barChart({
      title: `CoronaFS paths against ${corona.worker}'s local disk`,
      categories: fioJobKeys.map((k) => jobLabels[k]),
      series: [
        { name: "Controller export", values: vsLocal("controller") },
        { name: "Node-local export", values: vsLocal("nodeLocal") },
        ...(corona.nbdkit ? [{ name: "nbdkit (same worker)", values: fioJobKeys.map((k) => corona.nbdkit![k] / corona.columns.local[k]) }] : []),
      ],
      axis: "share of the local-disk result (MiB/s or IOPS)",
      reference: { value: 1, label: "local disk = 100%" },
      format: pct,
    });
  }
  const s3 = result.lightningstor;
  if (measured(s3)) {
    charts.s3 = barChart({
      title: `LightningStor S3 from ${s3.client} against the TCP baseline`,
      categories: ["Large object PUT", "Large object GET", "Batch PUT", "Batch GET", `Parallel (${s3.parallel.concurrency} jobs) PUT`, `Parallel (${s3.parallel.concurrency} jobs) GET`],
      series: [{ name: "LightningStor", values: [f.s3.largeUp, f.s3.largeDown, f.s3.batchUp, f.s3.batchDown, f.s3.parallelUp, f.s3.parallelDown] }],
      axis: "MiB/s",
      reference: f.tcpClient === undefined ? undefined : { value: f.tcpClient, label: `TCP baseline ${mibps(f.tcpClient)}` },
      format: mibps,
    });
  }
  const ratios = SEED_RATIOS.map((r) => ({ label: r.label, run: r.value(f), seed: r.value(SEED_FIGURES) })).filter((r) => r.run !== undefined);
  if (ratios.length > 0) {
    charts.seed = barChart({
      title: "This run's ratios beside the seed's published ones",
      categories: ratios.map((r) => r.label),
      series: [
        { name: "This run", values: ratios.map((r) => r.run) },
        { name: "Seed", values: ratios.map((r) => r.seed) },
      ],
      axis: "ratio (path / its baseline)",
      reference: { value: 1, label: "100%" },
      format: pct,
    });
  }
  return charts;
}
