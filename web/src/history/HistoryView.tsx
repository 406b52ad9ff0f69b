import { useEffect, useId, useMemo, useRef, useState } from 'react';
import { errorMessage, fetchKnownHistory, fetchSeriesNames } from '../lib/api.ts';
import { formatClock } from '../lib/format.ts';
import { HistoryChart } from './HistoryChart.tsx';
import { align, appendAligned, formatStep, groupSeries, resolutions, stepFor, type AlignedSeries, type Resolution } from './series.ts';

const RANGES = [
  { key: '1h', label: '1 h', ms: 3600_000 },
  { key: '6h', label: '6 h', ms: 6 * 3600_000 },
  { key: '24h', label: '24 h', ms: 24 * 3600_000 },
  { key: '7d', label: '7 d', ms: 7 * 24 * 3600_000 },
  { key: '30d', label: '30 d', ms: 30 * 24 * 3600_000 },
] as const;
type RangeKey = (typeof RANGES)[number]['key'];

const DEFAULT_SERIES = ['cpu.total', 'mem.used'];
const MAX_SERIES = 8;
const FOLLOW_MS = 5000;

/** What the URL says: `?series=a,b&range=24h` (so a view of the history can be shared). */
function fromUrl(): { series: string[] | null; range: RangeKey } {
  const q = new URLSearchParams(location.search);
  const series = q.get('series')?.split(',').filter(Boolean) ?? null;
  const r = q.get('range');
  return { series, range: RANGES.some((x) => x.key === r) ? (r as RangeKey) : '1h' };
}

function toUrl(series: readonly string[], range: RangeKey): void {
  const q = new URLSearchParams({ series: series.join(','), range });
  history.replaceState(history.state, '', `${location.pathname}?${q.toString()}`);
}

/** `one point per 1 s`, or where the server's tiers meet: `one point per 1 min until 17:05, then per 1 s` */
function describeRuns(runs: readonly Resolution[], step: number): string {
  if (runs.length < 2) return `one point per ${formatStep(runs[0]?.resolutionMs ?? step)}`;
  return `one point per ${runs.map((r, i) => (i === runs.length - 1 ? formatStep(r.resolutionMs) : `${formatStep(r.resolutionMs)} until ${formatClock(r.toMs)}`)).join(', then per ')}`;
}

interface Span {
  fromMs: number;
  toMs: number;
}

/** Any history series over the last hour at 1 s, or further back where the server keeps it; drag to zoom. */
export function HistoryView() {
  const id = useId();
  const initial = useMemo(fromUrl, []);
  const [names, setNames] = useState<string[] | null>(null);
  const [selected, setSelected] = useState<string[]>(initial.series ?? DEFAULT_SERIES);
  const [range, setRange] = useState<RangeKey>(initial.range);
  const [zoom, setZoom] = useState<Span | null>(null);
  const [data, setData] = useState<AlignedSeries | null>(null);
  const [shown, setShown] = useState<Span | null>(null);
  const [step, setStep] = useState(1000);
  const [runs, setRuns] = useState<Resolution[]>([]);
  const [problem, setProblem] = useState<string | null>(null);
  const [filter, setFilter] = useState('');
  const key = selected.join(',');
  const dataRef = useRef<AlignedSeries | null>(null);
  dataRef.current = data;

  useEffect(() => {
    const ctl = new AbortController();
    fetchSeriesNames(ctl.signal).then(
      (n) => setNames(n),
      (err: unknown) => {
        if (!ctl.signal.aborted) setProblem(errorMessage(err));
      },
    );
    return () => ctl.abort();
  }, []);

  useEffect(() => toUrl(selected, range), [selected, range]);

  // the window: load it whole when series, range or zoom change
  useEffect(() => {
    const list = key ? key.split(',') : [];
    if (list.length === 0) {
      setData(null);
      return;
    }
    const ctl = new AbortController();
    const span = RANGES.find((r) => r.key === range)!.ms;
    const toMs = zoom?.toMs ?? Date.now();
    const fromMs = zoom?.fromMs ?? toMs - span;
    const s = stepFor(toMs - fromMs);
    fetchKnownHistory({ series: list, sinceMs: fromMs, untilMs: toMs, stepMs: s, signal: ctl.signal }).then(
      (res) => {
        setData(align(list, res, s));
        setShown({ fromMs, toMs });
        setStep(s);
        setRuns(resolutions(res));
        setProblem(null);
      },
      (err: unknown) => {
        if (!ctl.signal.aborted) setProblem(errorMessage(err));
      },
    );
    return () => ctl.abort();
  }, [key, range, zoom]);

  // following the present (not zoomed): fetch what is new every few seconds
  useEffect(() => {
    if (zoom) return;
    const list = key ? key.split(',') : [];
    if (list.length === 0) return;
    const span = RANGES.find((r) => r.key === range)!.ms;
    const ctl = new AbortController();
    const t = setInterval(() => {
      const cur = dataRef.current;
      if (!cur) return;
      const now = Date.now();
      const lastSec = cur[0][cur[0].length - 1];
      const since = lastSec !== undefined ? lastSec * 1000 + 1 : now - span;
      const s = stepFor(span);
      fetchKnownHistory({ series: list, sinceMs: Math.max(since, now - span), untilMs: now, stepMs: s, signal: ctl.signal }).then(
        (res) => {
          const base = dataRef.current;
          if (!base) return;
          setData(appendAligned(base, align(list, res, s), (now - span) / 1000));
          setShown({ fromMs: now - span, toMs: now });
        },
        () => undefined,
      );
    }, FOLLOW_MS);
    return () => {
      clearInterval(t);
      ctl.abort();
    };
  }, [key, range, zoom]);

  const toggle = (name: string) =>
    setSelected((s) => (s.includes(name) ? s.filter((x) => x !== name) : s.length >= MAX_SERIES ? s : [...s, name]));
  const zoomBy = (factor: number) => {
    const w = zoom ?? shown;
    if (!w) return;
    const mid = (w.fromMs + w.toMs) / 2;
    const half = Math.max(30_000, ((w.toMs - w.fromMs) * factor) / 2);
    const toMs = Math.min(Date.now(), mid + half);
    setZoom({ fromMs: toMs - 2 * half, toMs });
  };
  const groups = useMemo(() => groupSeries((names ?? []).filter((n) => n.toLowerCase().includes(filter.toLowerCase()))), [names, filter]);
  const firstSec = data?.[0][0];
  const kept = shown && firstSec !== undefined && firstSec * 1000 > shown.fromMs + 2 * step ? firstSec * 1000 : null;

  return (
    <div className="view grid history-view">
      <section className="panel panel-wide" aria-labelledby={id} data-testid="history">
        <header className="panel-head history-head">
          <h2 id={id}>History</h2>
          <div className="segmented" role="group" aria-label="Range">
            {RANGES.map((r) => (
              <button
                key={r.key}
                type="button"
                aria-pressed={range === r.key && !zoom}
                onClick={() => {
                  setZoom(null);
                  setRange(r.key);
                }}
              >
                {r.label}
              </button>
            ))}
          </div>
          <div className="segmented" role="group" aria-label="Zoom">
            <button type="button" onClick={() => zoomBy(0.5)} aria-label="Zoom in">
              +
            </button>
            <button type="button" onClick={() => zoomBy(2)} aria-label="Zoom out">
              −
            </button>
            <button type="button" onClick={() => setZoom(null)} disabled={!zoom} data-testid="zoom-reset">
              reset
            </button>
          </div>
        </header>
        <p className="muted num history-meta" data-testid="history-meta">
          {shown ? `${formatClock(shown.fromMs)} – ${formatClock(shown.toMs)} · ${describeRuns(runs, step)}` : 'loading…'}
          {zoom ? ' · zoomed (drag across the chart to zoom further)' : ' · drag across the chart to zoom'}
          {kept ? ` · the server keeps data from ${formatClock(kept)} at this resolution` : ''}
        </p>
        {problem ? <p className="notice notice-bad">{problem}</p> : null}
        {selected.length === 0 ? (
          <p className="muted">Pick a series below.</p>
        ) : data && shown ? (
          <HistoryChart names={selected} data={data} fromSec={shown.fromMs / 1000} toSec={shown.toMs / 1000} onZoom={(fromMs, toMs) => setZoom({ fromMs, toMs })} />
        ) : (
          <div className="chart-placeholder history-placeholder">
            <p className="waiting">loading…</p>
          </div>
        )}
      </section>
      <section className="panel panel-wide series-picker" aria-label="Series" data-testid="series-picker">
        <header className="panel-head">
          <h2>Series</h2>
          <span className="muted num">
            {selected.length} of at most {MAX_SERIES} shown
          </span>
          <input type="search" className="ctr-filter" placeholder="Filter series" aria-label="Filter series" value={filter} onChange={(e) => setFilter(e.target.value)} />
        </header>
        {names === null ? (
          <p className="waiting">loading…</p>
        ) : (
          <div className="series-groups">
            {groups.map(([group, list]) => (
              <fieldset key={group} className="series-group">
                <legend>{group}</legend>
                {list.map((n) => (
                  <label key={n} className="series-option">
                    <input type="checkbox" checked={selected.includes(n)} onChange={() => toggle(n)} disabled={!selected.includes(n) && selected.length >= MAX_SERIES} />{' '}
                    <code>{n}</code>
                  </label>
                ))}
              </fieldset>
            ))}
          </div>
        )}
      </section>
    </div>
  );
}
