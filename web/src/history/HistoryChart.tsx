/** A zoomable uPlot chart of history series (drag across it to zoom); uPlot loads lazily. */
import { useEffect, useRef, useState } from 'react';
import type uPlot from 'uplot';
import { formatBytes, formatRate } from '../lib/format.ts';
import type { AlignedSeries, Unit } from './series.ts';
import { unitOf } from './series.ts';

const PALETTE = 8;
const DARK_QUERY = '(prefers-color-scheme: dark)';

export interface HistoryChartProps {
  names: readonly string[];
  data: AlignedSeries;
  /** x range shown, epoch seconds */
  fromSec: number;
  toSec: number;
  onZoom(fromMs: number, toMs: number): void;
  height?: number;
}

function formatValue(unit: Unit, v: number | null): string {
  if (v === null || !Number.isFinite(v)) return '–';
  switch (unit) {
    case 'B/s':
      return formatRate(v);
    case 'MiB':
      return formatBytes(v * 2 ** 20);
    case '%':
      return `${v.toFixed(1)} %`;
    default:
      return `${v.toFixed(1)} ${unit}`;
  }
}

export function HistoryChart({ names, data, fromSec, toSec, onZoom, height = 320 }: HistoryChartProps) {
  const el = useRef<HTMLDivElement>(null);
  const plot = useRef<uPlot | null>(null);
  const latest = useRef({ data, fromSec, toSec, onZoom });
  latest.current = { data, fromSec, toSec, onZoom };
  const [problem, setProblem] = useState<string | null>(null);
  const key = names.join(',');

  useEffect(() => {
    const host = el.current;
    if (!host) return;
    let disposed = false;
    let UPlot: typeof uPlot | null = null;
    const list = key ? key.split(',') : [];
    const create = () => {
      if (!UPlot || disposed) return;
      plot.current?.destroy();
      try {
        plot.current = new UPlot(options(host, list, height, (a, b) => latest.current.onZoom(a, b)), latest.current.data, host);
        plot.current.setScale('x', { min: latest.current.fromSec, max: latest.current.toSec });
      } catch (err) {
        setProblem(`chart unavailable: ${err instanceof Error ? err.message : String(err)}`);
      }
    };
    Promise.all([import('uplot'), import('uplot/dist/uPlot.min.css')]).then(
      ([mod]) => {
        UPlot = mod.default;
        create();
      },
      (err: unknown) => setProblem(`chart unavailable: ${String(err)}`),
    );
    const resize = typeof ResizeObserver === 'function' ? new ResizeObserver(() => plot.current?.setSize({ width: Math.max(100, host.clientWidth), height })) : null;
    resize?.observe(host);
    const media = typeof matchMedia === 'function' ? matchMedia(DARK_QUERY) : null;
    media?.addEventListener('change', create);
    return () => {
      disposed = true;
      resize?.disconnect();
      media?.removeEventListener('change', create);
      plot.current?.destroy();
      plot.current = null;
    };
  }, [key, height]);

  useEffect(() => {
    const p = plot.current;
    if (!p) return;
    p.setData(data, false);
    p.setScale('x', { min: fromSec, max: toSec });
  }, [data, fromSec, toSec]);

  return (
    <div className="chart history-chart" data-testid="history-chart">
      <div className="chart-plot" ref={el} style={{ height: height + 40 }} role="img" aria-label={`History of ${names.join(', ')}`} />
      {problem ? <p className="chart-problem muted">{problem}</p> : null}
    </div>
  );
}

function options(el: HTMLElement, names: string[], height: number, onZoom: (fromMs: number, toMs: number) => void): uPlot.Options {
  const css = getComputedStyle(el);
  const v = (name: string, fallback: string) => css.getPropertyValue(name).trim() || fallback;
  const axisStroke = v('--chart-axis', '#888');
  const grid = v('--chart-grid', 'rgba(128,128,128,0.2)');
  const font = `11px ${v('--font-ui', 'system-ui, sans-serif')}`;
  const units = [...new Set(names.map(unitOf))];
  const series: uPlot.Series[] = [{}];
  names.forEach((n, i) => {
    const unit = unitOf(n);
    // spanGaps: series sampled at different moments (host, GPU, containers) leave nulls between each other's points
    series.push({ label: n, scale: unit, stroke: v(`--series-${i % PALETTE}`, '#2f7de1'), width: 1.5, spanGaps: true, points: { show: false }, value: (_u, x) => formatValue(unit, x) });
  });
  const axes: uPlot.Axis[] = [
    { stroke: axisStroke, font, space: 80, grid: { stroke: grid, width: 1 }, ticks: { stroke: grid, width: 1 } },
    ...units.slice(0, 2).map(
      (unit, k): uPlot.Axis => ({
        scale: unit,
        side: k === 0 ? 3 : 1,
        stroke: axisStroke,
        font,
        size: 72,
        grid: { show: k === 0, stroke: grid, width: 1 },
        ticks: { stroke: grid, width: 1 },
        values: (_u, splits) => splits.map((s) => formatValue(unit, s)),
      }),
    ),
  ];
  const scales: uPlot.Scales = { x: { time: true } };
  for (const u of units) scales[u] = { range: (_u, min, max) => (u === '%' ? [0, Math.max(100, max)] : [Math.min(0, min), max > 0 ? max * 1.1 : 1]) };
  return {
    width: Math.max(100, el.clientWidth),
    height,
    series,
    axes,
    scales,
    cursor: { drag: { x: true, y: false, setScale: false }, points: { size: 6 } },
    hooks: {
      setSelect: [
        (u) => {
          if (u.select.width > 4) onZoom(u.posToVal(u.select.left, 'x') * 1000, u.posToVal(u.select.left + u.select.width, 'x') * 1000);
          u.setSelect({ left: 0, top: 0, width: 0, height: 0 }, false);
        },
      ],
    },
  };
}
