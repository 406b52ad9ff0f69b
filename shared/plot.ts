/**
 * A line chart as a standalone SVG document, no dependency (zod-free: the dashboard imports it at run time): one
 * line per series over a shared x axis, axes with ticks, a legend. Used for the inflation experiment's figure
 * (unallocated GPUs vs arrived workload), written by `arbiter simulate --experiment inflation --plot` and shown by
 * the dashboard's strategy view for the live cluster. Every text is escaped; each line and its legend entry carry
 * `data-series` (the series' name).
 */

export interface Series {
  name: string;
  points: readonly { x: number; y: number }[];
}

export interface ChartOptions {
  title: string;
  xLabel: string;
  yLabel: string;
  width?: number;
  height?: number;
  /** the x axis ends here @default the largest x */
  xMax?: number;
  /** the series drawn thicker, its legend entry bold @default the first; null: none */
  highlight?: string | null;
}

const COLOURS = ['#d62728', '#1f77b4', '#2ca02c', '#ff7f0e', '#9467bd', '#8c564b', '#e377c2', '#7f7f7f', '#bcbd22', '#17becf'];

const esc = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');

/** A round step giving about `n` ticks over [0, max]. */
function step(max: number, n = 5): number {
  const raw = max / n;
  const p = 10 ** Math.floor(Math.log10(raw));
  return [1, 2, 5, 10].map((m) => m * p).find((s) => s >= raw) ?? 10 * p;
}

export function lineChart(series: readonly Series[], o: ChartOptions): string {
  const W = o.width ?? 720;
  const H = o.height ?? 420;
  const m = { left: 60, right: 170, top: 36, bottom: 48 };
  const pw = W - m.left - m.right;
  const ph = H - m.top - m.bottom;
  const all = series.flatMap((s) => s.points);
  const xMax = o.xMax ?? Math.max(1, ...all.map((p) => p.x));
  const yTop = Math.max(1, ...all.map((p) => p.y));
  const ys = step(yTop);
  const yMax = Math.ceil(yTop / ys) * ys;
  const xs = step(xMax);
  const X = (x: number) => m.left + (x / xMax) * pw;
  const Y = (y: number) => m.top + ph - (y / yMax) * ph;
  const out: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="sans-serif" font-size="12">`,
    `<rect width="${W}" height="${H}" fill="#fff"/>`,
    `<text x="${m.left + pw / 2}" y="20" text-anchor="middle" font-size="14">${esc(o.title)}</text>`,
  ];
  for (let y = 0; y <= yMax + 1e-9; y += ys) {
    out.push(`<line x1="${m.left}" x2="${m.left + pw}" y1="${Y(y).toFixed(1)}" y2="${Y(y).toFixed(1)}" stroke="#e5e5e5"/>`,
      `<text x="${m.left - 6}" y="${(Y(y) + 4).toFixed(1)}" text-anchor="end">${+y.toFixed(6)}</text>`);
  }
  for (let x = 0; x <= xMax + 1e-9; x += xs) {
    out.push(`<line x1="${X(x).toFixed(1)}" x2="${X(x).toFixed(1)}" y1="${m.top + ph}" y2="${m.top + ph + 4}" stroke="#333"/>`,
      `<text x="${X(x).toFixed(1)}" y="${m.top + ph + 18}" text-anchor="middle">${+x.toFixed(6)}</text>`);
  }
  out.push(`<line x1="${m.left}" x2="${m.left + pw}" y1="${m.top + ph}" y2="${m.top + ph}" stroke="#333"/>`,
    `<line x1="${m.left}" x2="${m.left}" y1="${m.top}" y2="${m.top + ph}" stroke="#333"/>`,
    `<text x="${m.left + pw / 2}" y="${H - 10}" text-anchor="middle">${esc(o.xLabel)}</text>`,
    `<text transform="translate(16 ${m.top + ph / 2}) rotate(-90)" text-anchor="middle">${esc(o.yLabel)}</text>`);
  const highlight = o.highlight === undefined ? series[0]?.name : o.highlight;
  series.forEach((s, i) => {
    const colour = COLOURS[i % COLOURS.length]!;
    const name = esc(s.name);
    const strong = s.name === highlight;
    const d = s.points.map((p) => `${X(p.x).toFixed(1)},${Y(p.y).toFixed(1)}`).join(' ');
    out.push(`<polyline data-series="${name}" fill="none" stroke="${colour}" stroke-width="${strong ? 3 : 1.5}" points="${d}"><title>${name}</title></polyline>`);
    const ly = m.top + 10 + i * 18;
    out.push(`<g data-series="${name}"><line x1="${m.left + pw + 16}" x2="${m.left + pw + 40}" y1="${ly}" y2="${ly}" stroke="${colour}" stroke-width="${strong ? 4 : 2.5}"/>`,
      `<text x="${m.left + pw + 46}" y="${ly + 4}"${strong ? ' font-weight="bold"' : ''}>${name}</text></g>`);
  });
  out.push('</svg>');
  return `${out.join('\n')}\n`;
}

/** What the inflation figure reads of one placement's run (server/sim/inflation.ts InflationRun, or the compare's). */
export interface InflationLine {
  name: string;
  points: readonly { arrivedPct: number; unallocatedGpuPct: number }[];
}

/** The cluster and the draws of an inflation run, for the figure's title. */
export interface InflationCluster {
  nodes: number;
  gpus: number;
  seed: number;
}

/**
 * The workload-inflation figure: unallocated GPUs vs arrived GPU demand, both in % of the cluster's GPUs, one line
 * per placement from (0, 0), the x axis to 100 % (a run cut short by its bound stops before it).
 */
export function inflationChart(lines: readonly InflationLine[], run: InflationCluster, o: Pick<ChartOptions, 'highlight' | 'width' | 'height'> = {}): string {
  const series = lines.map((r) => ({ name: r.name, points: [{ x: 0, y: 0 }, ...r.points.map((p) => ({ x: p.arrivedPct, y: p.unallocatedGpuPct }))] }));
  return lineChart(series, {
    ...o, xMax: 100, title: `Workload inflation on ${run.nodes} ${run.nodes === 1 ? 'node' : 'nodes'}, ${run.gpus} GPUs (seed ${run.seed})`,
    xLabel: 'arrived GPU demand (% of the cluster\u2019s GPUs)', yLabel: 'unallocated GPUs (% of the cluster\u2019s GPUs)',
  });
}
