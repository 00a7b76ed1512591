/** One named series of a bar chart: a value per category, undefined where not measured. */
export interface BarSeries {
  name: string;
  values: (number | undefined)[];
}

/** A horizontal grouped bar chart. */
export interface BarChartSpec {
  title: string;
  /** One group of bars per category, top to bottom. */
  categories: string[];
  series: BarSeries[];
  /** Axis caption, e.g. "% of local disk". */
  axis: string;
  /** A vertical line across every group, e.g. the link baseline. */
  reference?: { value: number; label: string };
  format(value: number): string;
}

const palette = ["#2f6db5", "#e07b28", "#3a9a5b", "#9b59b6"];
const width = 820;
const labelWidth = 230;
const plotWidth = width - labelWidth - 110;
const barHeight = 14;
const barGap = 3;
const groupGap = 14;
const top = 64;

/**
 * Renders a self-contained SVG: bars carry `data-series`, `data-category` and
 * `data-value` so that tests (and anyone scripting) read the numbers back.
 */
export function barChart(spec: BarChartSpec): string {
  const values = spec.series.flatMap((s) => s.values).filter((v): v is number => v !== undefined && Number.isFinite(v));
  const max = Math.max(...values, spec.reference?.value ?? 0, Number.MIN_VALUE) * 1.08;
  const x = (v: number) => labelWidth + (Math.max(0, v) / max) * plotWidth;
  const groupHeight = spec.series.length * (barHeight + barGap) - barGap;
  const height = top + spec.categories.length * (groupHeight + groupGap) + 40;
  const groupTop = (i: number) => top + i * (groupHeight + groupGap);
  const parts: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="sans-serif" font-size="12">`,
    `<title>${escape(spec.title)}</title>`,
    `<rect width="${width}" height="${height}" fill="#ffffff"/>`,
    `<text x="${width / 2}" y="22" text-anchor="middle" font-size="15" font-weight="bold">${escape(spec.title)}</text>`,
  ];
  spec.series.forEach((s, i) => {
    const lx = labelWidth + i * 190;
    parts.push(`<rect x="${lx}" y="34" width="12" height="12" fill="${palette[i % palette.length]}"/>`, `<text x="${lx + 17}" y="44">${escape(s.name)}</text>`);
  });
  spec.categories.forEach((category, i) => {
    parts.push(`<text x="${labelWidth - 8}" y="${groupTop(i) + groupHeight / 2 + 4}" text-anchor="end">${escape(category)}</text>`);
  });
  spec.series.forEach((s, si) => {
    parts.push(`<g class="series" data-series="${escape(s.name)}" fill="${palette[si % palette.length]}">`);
    s.values.forEach((value, ci) => {
      const y = groupTop(ci) + si * (barHeight + barGap);
      if (value === undefined || !Number.isFinite(value)) {
        parts.push(`<text x="${labelWidth + 4}" y="${y + barHeight - 3}" fill="#888888" data-category="${escape(spec.categories[ci]!)}">not measured</text>`);
        return;
      }
      const w = x(value) - labelWidth;
      parts.push(
        `<rect x="${labelWidth}" y="${y}" width="${w.toFixed(1)}" height="${barHeight}" data-category="${escape(spec.categories[ci]!)}" data-value="${value}"/>`,
        `<text x="${(labelWidth + w + 4).toFixed(1)}" y="${y + barHeight - 3}" fill="#222222">${escape(spec.format(value))}</text>`,
      );
    });
    parts.push("</g>");
  });
  const bottom = height - 34;
  parts.push(`<line x1="${labelWidth}" y1="${top - 6}" x2="${labelWidth}" y2="${bottom}" stroke="#444444"/>`);
  if (spec.reference) {
    const rx = x(spec.reference.value).toFixed(1);
    parts.push(
      `<line class="reference" x1="${rx}" y1="${top - 6}" x2="${rx}" y2="${bottom}" stroke="#c0392b" stroke-dasharray="5,4" data-value="${spec.reference.value}"/>`,
      `<text x="${rx}" y="${bottom + 14}" text-anchor="middle" fill="#c0392b">${escape(spec.reference.label)}</text>`,
    );
  }
  parts.push(`<text x="${labelWidth + plotWidth / 2}" y="${height - 6}" text-anchor="middle" fill="#444444">${escape(spec.axis)}</text>`, "</svg>");
  return parts.join("\n") + "\n";
}

function escape(text: string): string {
  return text.replaceAll("&", "&amp;").replaceAll("<", "&lt;").replaceAll(">", "&gt;").replaceAll('"', "&quot;");
}
