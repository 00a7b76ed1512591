import { writeFileSync } from "node:fs";
import { basename, dirname, extname, join, relative } from "node:path";
import { ensureDir } from "../../util/fs.ts";
import { assess } from "./assessment.ts";
import { renderCharts } from "./charts.ts";
import { renderReport } from "./report.ts";
import type { BenchResult } from "./result.ts";

/** The files one run wrote. */
export interface WrittenOutputs {
  markdown: string;
  json: string;
  charts: string[];
}

/**
 * Writes the markdown report, the JSON (the result plus its assessment) and
 * the SVG charts beside the report, named after it (`storage-coronafs.svg`…).
 */
export function writeBenchOutputs(result: BenchResult, paths: { markdown: string; json: string }): WrittenOutputs {
  const dir = dirname(paths.markdown);
  ensureDir(dir);
  ensureDir(dirname(paths.json));
  const stem = basename(paths.markdown, extname(paths.markdown));
  const charts = renderCharts(result);
  const links: Record<string, string> = {};
  const written: string[] = [];
  for (const [name, svg] of Object.entries(charts)) {
    if (svg === undefined) continue;
    const file = join(dir, `${stem}-${name}.svg`);
    writeFileSync(file, svg);
    links[name] = relative(dir, file);
    written.push(file);
  }
  writeFileSync(paths.markdown, renderReport(result, links));
  writeFileSync(paths.json, JSON.stringify({ ...result, assessment: assess(result) }, null, 2) + "\n");
  return { markdown: paths.markdown, json: paths.json, charts: written };
}
