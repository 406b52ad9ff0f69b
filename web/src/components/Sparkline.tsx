import { memo } from 'react';

export interface SparklineSeries {
  /** one value per time, null where there is no sample (the line breaks there) */
  values: readonly (number | null)[];
  /** 0–7: the colour `--series-<n>` */
  colour: number;
  /** shade the area under the line */
  area?: boolean;
  /** a dashed line (told apart without colour) */
  dashed?: boolean;
}

export interface SparklineProps {
  /** times in seconds, ascending */
  t: readonly number[];
  series: readonly SparklineSeries[];
  /** the x axis spans this many seconds back from the newest point, so the line scrolls rather than stretches */
  windowSec: number;
  /** top of the y axis (bottom is 0) */
  max: number;
  label: string;
  testId?: string;
}

const W = 300;
const H = 48;
const PAD = 2;

/**
 * A tiny SVG line chart without axes. Its box has a fixed height in CSS and stretches to the width
 * (strokes keep their width), so nothing moves when data arrives.
 */
export const Sparkline = memo(function Sparkline({ t, series, windowSec, max, label, testId }: SparklineProps) {
  const end = t[t.length - 1];
  return (
    <svg className="spark" viewBox={`0 0 ${W} ${H}`} preserveAspectRatio="none" role="img" aria-label={label} data-testid={testId}>
      {end === undefined
        ? null
        : series.map((s, i) => {
            const { line, area } = paths(t, s.values, end - windowSec, windowSec, max);
            const style = { ['--spark' as string]: `var(--series-${s.colour % 8})` };
            return (
              <g key={i} style={style}>
                {s.area && area ? <path className="spark-area" d={area} /> : null}
                <path className={s.dashed ? 'spark-line spark-dashed' : 'spark-line'} d={line} vectorEffect="non-scaling-stroke" />
              </g>
            );
          })}
    </svg>
  );
});

/** SVG path data of a series: the line (broken at nulls) and the area under it. */
export function paths(
  t: readonly number[],
  values: readonly (number | null)[],
  start: number,
  span: number,
  max: number,
): { line: string; area: string } {
  const x = (ts: number) => round(((ts - start) / span) * W);
  const y = (v: number) => round(H - PAD - (Math.min(max, Math.max(0, v)) / max) * (H - 2 * PAD));
  let line = '';
  let area = '';
  let seg: string[] = [];
  let firstX = 0;
  let lastX = 0;
  const close = () => {
    if (seg.length === 0) return;
    // a lone point still shows (as a round dot, via the line cap)
    line += seg.length === 1 ? `${seg[0]}h0.01` : seg.join('');
    area += `M${firstX} ${H}${seg.map((p) => `L${p.slice(1)}`).join('')}L${lastX} ${H}Z`;
    seg = [];
  };
  const n = Math.min(t.length, values.length);
  for (let i = 0; i < n; i++) {
    const v = values[i];
    if (v === null || v === undefined || !Number.isFinite(v) || t[i]! < start) {
      close();
      continue;
    }
    const px = x(t[i]!);
    if (seg.length === 0) firstX = px;
    lastX = px;
    seg.push(`${seg.length === 0 ? 'M' : 'L'}${px} ${y(v)}`);
  }
  close();
  return { line, area };
}

function round(n: number): number {
  return Math.round(n * 10) / 10;
}
