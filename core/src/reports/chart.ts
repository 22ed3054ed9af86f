/**
 * Bar charts drawn on the server as inline SVG: no chart library, no CDN, nothing for the browser
 * to run. The SVG scales to its container (viewBox), so one drawing serves a phone and a desktop.
 */

export interface BarSeries {
  label: string;
  /** One value per bucket, in the buckets' order. */
  values: number[];
  color: string;
}

export interface BarChart {
  /** Accessible name of the chart. */
  title: string;
  /** The buckets along the x axis. */
  labels: string[];
  series: BarSeries[];
  /** How values are written on the axis and in tooltips (money, counts). */
  format: (value: number) => string;
}

const W = 640;
const H = 240;
const PAD = { top: 12, right: 8, bottom: 28, left: 64 };

const esc = (s: string) => s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
const r1 = (n: number) => Math.round(n * 10) / 10;

/** A round step for about four gridlines between 0 and `span`. */
function niceStep(span: number): number {
  const raw = span / 4;
  const mag = 10 ** Math.floor(Math.log10(raw));
  return ([1, 2, 2.5, 5, 10].find((m) => m * mag >= raw) ?? 10) * mag;
}

/**
 * Grouped bars, one group per label, with gridlines, the axis in the chart's format, a legend, and
 * a tooltip (`<title>`) plus `data-series`/`data-value` on every bar. Negative values (a loss) hang
 * below the zero line.
 */
export function barChart(chart: BarChart): string {
  const all = chart.series.flatMap((s) => s.values);
  let max = Math.max(0, ...all);
  let min = Math.min(0, ...all);
  if (max === min) max = 1;
  const step = niceStep(max - min);
  max = Math.ceil(max / step) * step;
  min = Math.floor(min / step) * step;
  const plotW = W - PAD.left - PAD.right;
  const plotH = H - PAD.top - PAD.bottom;
  const y = (v: number) => PAD.top + ((max - v) / (max - min)) * plotH;
  const groupW = plotW / Math.max(1, chart.labels.length);
  const barW = Math.max(1, (groupW * 0.8) / Math.max(1, chart.series.length));
  const out: string[] = [];
  for (let i = 0; min + i * step <= max + step / 2; i++) {
    const v = min + i * step;
    out.push(`<line x1="${PAD.left}" x2="${W - PAD.right}" y1="${r1(y(v))}" y2="${r1(y(v))}" stroke="${v === 0 ? '#8c959f' : '#d8dde3'}" stroke-width="1"/>`);
    out.push(`<text x="${PAD.left - 6}" y="${r1(y(v) + 4)}" text-anchor="end" font-size="11" fill="currentColor">${esc(chart.format(v))}</text>`);
  }
  // Label every bucket on a short axis, about eight of them on a long one.
  const every = Math.ceil(chart.labels.length / 8);
  chart.labels.forEach((label, i) => {
    const x0 = PAD.left + i * groupW + groupW * 0.1;
    chart.series.forEach((s, k) => {
      const v = s.values[i] ?? 0;
      const top = y(Math.max(v, 0));
      const height = Math.abs(y(v) - y(0));
      out.push(
        `<rect x="${r1(x0 + k * barW)}" y="${r1(top)}" width="${r1(barW)}" height="${r1(height)}" fill="${s.color}" data-series="${esc(s.label)}" data-label="${esc(label)}" data-value="${v}"><title>${esc(`${label} ${s.label}: ${chart.format(v)}`)}</title></rect>`,
      );
    });
    if (i % every === 0) out.push(`<text x="${r1(x0 + (groupW * 0.8) / 2)}" y="${H - PAD.bottom + 16}" text-anchor="middle" font-size="11" fill="currentColor">${esc(label)}</text>`);
  });
  const legend = chart.series
    .map((s, k) => `<rect x="${PAD.left + k * 120}" y="${H + 4}" width="10" height="10" fill="${s.color}"/><text x="${PAD.left + k * 120 + 14}" y="${H + 13}" font-size="11" fill="currentColor">${esc(s.label)}</text>`)
    .join('');
  return `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 ${W} ${H + 18}" width="100%" role="img" aria-label="${esc(chart.title)}"><title>${esc(chart.title)}</title>${out.join('')}${legend}</svg>`;
}
