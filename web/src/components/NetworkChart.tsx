/**
 * Network rx/tx per interface over the last minutes: history from /api/history, then one point per live
 * resource_status (batched per frame, drawn imperatively: no React render per update). uPlot loads lazily.
 */
import { useEffect, useRef, useState } from 'react';
import type uPlot from 'uplot';
import type { NetworkInterface } from '../../../shared/resources.ts';
import { fetchKnownHistory, seriesName } from '../lib/api.ts';
import { formatRate } from '../lib/format.ts';
import { RollingSeries, type HistoryColumn } from '../lib/rolling.ts';
import { useLiveSource } from '../live/hooks.ts';
import type { Envelope } from '../../../shared/events.ts';
import type { LiveSource } from '../live/source.ts';

const PALETTE_SIZE = 8;
const DARK_QUERY = '(prefers-color-scheme: dark)';

export interface NetworkChartProps {
  /** interfaces to plot (stable order) */
  ifaces: readonly string[];
  /** latest figures, for the legend */
  network: readonly NetworkInterface[];
  windowMs?: number;
  height?: number;
}

export function NetworkChart({ ifaces, network, windowMs = 10 * 60_000, height = 220 }: NetworkChartProps) {
  const source = useLiveSource();
  const plotEl = useRef<HTMLDivElement>(null);
  const plotRef = useRef<uPlot | null>(null);
  const [hidden, setHidden] = useState<ReadonlySet<string>>(() => new Set());
  const hiddenRef = useRef(hidden);
  const [problem, setProblem] = useState<string | null>(null);
  const key = ifaces.join('\n');

  useEffect(() => {
    const el = plotEl.current;
    if (!el) return;
    const list = key ? key.split('\n') : [];
    return mountChart({ el, source, ifaces: list, windowMs, height, hidden: () => hiddenRef.current, plotRef, setProblem });
  }, [source, key, windowMs, height]);

  useEffect(() => {
    hiddenRef.current = hidden;
    const plot = plotRef.current;
    if (!plot) return;
    ifaces.forEach((iface, i) => {
      const show = !hidden.has(iface);
      plot.setSeries(1 + 2 * i, { show });
      plot.setSeries(2 + 2 * i, { show });
    });
  }, [hidden, ifaces]);

  const byIface = new Map(network.map((n) => [n.iface, n]));
  const toggle = (iface: string) =>
    setHidden((h) => {
      const next = new Set(h);
      if (!next.delete(iface)) next.add(iface);
      return next;
    });

  return (
    <div className="chart" data-testid="network-chart">
      <div
        className="chart-plot"
        ref={plotEl}
        style={{ height }}
        role="img"
        aria-label={`Network receive and transmit rates per interface, last ${Math.round(windowMs / 60_000)} minutes`}
      />
      {problem ? <p className="chart-problem muted">{problem}</p> : null}
      <ul className="legend" aria-label="Interfaces">
        {ifaces.map((iface, i) => {
          const n = byIface.get(iface);
          const shown = !hidden.has(iface);
          return (
            <li key={iface}>
              <button
                type="button"
                className="legend-item"
                aria-pressed={shown}
                title={shown ? `hide ${iface}` : `show ${iface}`}
                onClick={() => toggle(iface)}
                style={{ ['--swatch' as string]: `var(--series-${i % PALETTE_SIZE})` }}
              >
                <span className="swatch" aria-hidden="true" />
                <span className="legend-name">{iface}</span>
                <span className="num" title="receive">
                  ↓ {n ? formatRate(n.rxBytesPerSec) : '–'}
                </span>
                <span className="num" title="transmit">
                  ↑ {n ? formatRate(n.txBytesPerSec) : '–'}
                </span>
              </button>
            </li>
          );
        })}
      </ul>
      <p className="chart-key muted" aria-hidden="true">
        solid: receive · dashed: transmit
      </p>
    </div>
  );
}

interface MountArgs {
  el: HTMLDivElement;
  source: LiveSource;
  ifaces: string[];
  windowMs: number;
  height: number;
  hidden(): ReadonlySet<string>;
  plotRef: { current: uPlot | null };
  setProblem(p: string | null): void;
}

/** Everything imperative about the chart; returns the cleanup. */
function mountChart({ el, source, ifaces, windowMs, height, hidden, plotRef, setProblem }: MountArgs): () => void {
  // one row a second at most (the history's resolution): memory and drawing do not grow with the sample rate
  const buf = new RollingSeries(
    ifaces.flatMap((i) => [`${i}.rx`, `${i}.tx`]),
    windowMs / 1000,
    1,
  );
  const names = ifaces.flatMap((i) => [seriesName.netRx(i), seriesName.netTx(i)]);
  let UPlot: typeof uPlot | null = null;
  let plot: uPlot | null = null;
  let disposed = false;
  let ctl: AbortController | null = null;

  const redraw = () => plot?.setData(buf.data());

  const append = (envs: readonly Envelope<'resource_status'>[]) => {
    let added = false;
    for (const env of envs) {
      const host = env.data.host;
      if (!host) continue;
      const by = new Map(host.network.map((n) => [n.iface, n]));
      const row = ifaces.flatMap((i) => {
        const n = by.get(i);
        return [n ? n.rxBytesPerSec : null, n ? n.txBytesPerSec : null];
      });
      if (buf.append(host.sampledAt / 1000, row)) added = true;
    }
    if (added) redraw();
  };

  const loadHistory = () => {
    if (names.length === 0) return;
    ctl?.abort();
    const c = (ctl = new AbortController());
    const latest = source.getSnapshot().latest.resource_status?.data.sampledAt;
    const end = buf.lastT !== undefined ? buf.lastT * 1000 : (latest ?? Date.now());
    // an interface with no history yet is left out
    fetchKnownHistory({ series: names, sinceMs: end - windowMs, signal: c.signal })
      .then(
      (res) => {
        if (disposed || c.signal.aborted) return;
        const index = new Map(names.map((n, k) => [n, k]));
        const cols: HistoryColumn[] = [];
        for (const s of res.series) {
          const k = index.get(s.name);
          if (k !== undefined) cols.push({ index: k, t: s.t, v: s.v });
        }
        buf.replaceWithHistory(cols);
        setProblem(null);
        redraw();
      },
      (err: unknown) => {
        if (disposed || c.signal.aborted) return;
        setProblem(`history unavailable (${err instanceof Error ? err.message : String(err)}); showing live points only`);
      },
    );
  };

  const create = () => {
    if (!UPlot || disposed) return;
    plot?.destroy();
    plot = null;
    try {
      plot = new UPlot(chartOptions(el, ifaces, windowMs / 1000, height, hidden()), buf.data(), el);
    } catch (err) {
      setProblem(`chart unavailable: ${err instanceof Error ? err.message : String(err)}`);
    }
    plotRef.current = plot;
  };

  // the current sample first (it was delivered before we subscribed), then history behind it
  const current = source.getSnapshot().latest.resource_status;
  if (current) append([current]);
  const offEnvelopes = source.onEnvelopes('resource_status', append);
  const offGap = source.onGap(loadHistory); // events were lost: fill the hole from history
  loadHistory();

  Promise.all([import('uplot'), import('uplot/dist/uPlot.min.css')]).then(
    ([mod]) => {
      UPlot = mod.default;
      create();
    },
    (err: unknown) => setProblem(`chart unavailable: ${String(err)}`),
  );

  const resize =
    typeof ResizeObserver === 'function'
      ? new ResizeObserver(() => plot?.setSize({ width: Math.max(100, el.clientWidth), height }))
      : null;
  resize?.observe(el);

  const media = typeof matchMedia === 'function' ? matchMedia(DARK_QUERY) : null;
  media?.addEventListener('change', create); // canvas colours come from CSS variables: redraw with the new theme

  return () => {
    disposed = true;
    ctl?.abort();
    offEnvelopes();
    offGap();
    resize?.disconnect();
    media?.removeEventListener('change', create);
    plot?.destroy();
    plot = null;
    plotRef.current = null;
  };
}

function chartOptions(el: HTMLElement, ifaces: string[], windowSec: number, height: number, hidden: ReadonlySet<string>): uPlot.Options {
  const css = getComputedStyle(el);
  const v = (name: string, fallback: string) => css.getPropertyValue(name).trim() || fallback;
  const axis = v('--chart-axis', '#888');
  const grid = v('--chart-grid', 'rgba(128,128,128,0.2)');
  const font = `11px ${v('--font-ui', 'system-ui, sans-serif')}`;
  const series: uPlot.Series[] = [{}];
  ifaces.forEach((iface, i) => {
    const stroke = v(`--series-${i % PALETTE_SIZE}`, '#2f7de1');
    const show = !hidden.has(iface);
    series.push(
      { label: `${iface} rx`, stroke, width: 1.5, show, points: { show: false }, value: (_u, x) => rate(x) },
      { label: `${iface} tx`, stroke, width: 1.5, dash: [5, 4], show, points: { show: false }, value: (_u, x) => rate(x) },
    );
  });
  return {
    width: Math.max(100, el.clientWidth),
    height,
    series,
    legend: { show: false },
    cursor: { drag: { x: false, y: false }, points: { size: 6 } },
    scales: {
      x: { time: true, range: (_u, _min, max) => [max - windowSec, max] },
      y: { range: (_u, _min, max) => [0, max > 0 ? max * 1.15 : 1024] },
    },
    axes: [
      {
        stroke: axis,
        font,
        space: 70,
        grid: { stroke: grid, width: 1 },
        ticks: { stroke: grid, width: 1 },
        // local wall-clock time, seconds only when ticks are closer than a minute
        values: (_u, splits, _axis, _space, incr) => splits.map((s) => clock(s, incr < 60)),
      },
      {
        stroke: axis,
        font,
        size: 78,
        grid: { stroke: grid, width: 1 },
        ticks: { stroke: grid, width: 1 },
        values: (_u, splits) => splits.map((s) => formatRate(s)),
      },
    ],
  };
}

const hm = new Intl.DateTimeFormat(undefined, { hour: '2-digit', minute: '2-digit' });
const hms = new Intl.DateTimeFormat(undefined, { hour: '2-digit', minute: '2-digit', second: '2-digit' });

function clock(sec: number, withSeconds: boolean): string {
  return (withSeconds ? hms : hm).format(sec * 1000);
}

function rate(x: number | null): string {
  return x === null ? '–' : formatRate(x);
}
