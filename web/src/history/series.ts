/** History series: what each name measures, in which unit, grouped for the picker, and columns aligned for charts. */
import type { HistoryResponse } from '../../../shared/api.ts';

export type Unit = '%' | 'B/s' | '°C' | 'W' | 'MiB';

export function unitOf(name: string): Unit {
  if (/^net\./.test(name)) return 'B/s';
  if (/^gpu\.\d+\.temp$/.test(name)) return '°C';
  if (/^gpu\.\d+\.power$/.test(name)) return 'W';
  if (/^container\..+\.mem$/.test(name)) return 'MiB';
  return '%';
}

export function groupOf(name: string): string {
  if (name.startsWith('cpu.core.')) return 'CPU cores';
  if (name.startsWith('cpu.') || name === 'mem.used' || name === 'swap.used') return 'Host';
  if (name.startsWith('disk.')) return 'Disks';
  if (name.startsWith('net.')) return 'Network';
  if (name.startsWith('gpu.')) return 'GPUs';
  if (name.startsWith('container.')) return 'Containers';
  return 'Other';
}

export function groupSeries(names: readonly string[]): [string, string[]][] {
  const groups = new Map<string, string[]>();
  for (const n of names) {
    const g = groupOf(n);
    if (!groups.has(g)) groups.set(g, []);
    groups.get(g)!.push(n);
  }
  const order = ['Host', 'GPUs', 'Disks', 'Network', 'Containers', 'CPU cores', 'Other'];
  return [...groups.entries()].sort((a, b) => order.indexOf(a[0]) - order.indexOf(b[0]));
}

export type AlignedSeries = [number[], ...(number | null)[][]];

/**
 * One time axis (seconds) for `names` from the columnar answer (each series has its own `t`): the union of the
 * times snapped to `snapMs` (series sampled a few ms apart share a point), null where a series has no point.
 * Series missing from the answer are all null.
 */
export function align(names: readonly string[], res: HistoryResponse, snapMs = 1000): AlignedSeries {
  const snap = (t: number) => Math.round(t / snapMs) * snapMs;
  const byName = new Map(res.series.map((s) => [s.name, s]));
  const times = new Set<number>();
  for (const n of names) for (const t of byName.get(n)?.t ?? []) times.add(snap(t));
  const t = [...times].sort((a, b) => a - b);
  const index = new Map(t.map((x, i) => [x, i]));
  const cols = names.map((n) => {
    const col: (number | null)[] = new Array<number | null>(t.length).fill(null);
    const s = byName.get(n);
    if (s) for (let i = 0; i < s.t.length; i++) col[index.get(snap(s.t[i]!))!] = s.v[i] ?? null;
    return col;
  });
  return [t.map((x) => x / 1000), ...cols];
}

export interface Resolution {
  /** epoch ms of the first and last point at this resolution */
  fromMs: number;
  toMs: number;
  resolutionMs: number;
}

/** The runs of one resolution in the answer (the server says where its on-disk tier ends and memory begins). */
export function resolutions(res: HistoryResponse): Resolution[] {
  const s = res.series.find((x) => x.segments && x.segments.length > 0);
  if (!s?.segments) return [];
  const out: Resolution[] = [];
  for (const seg of s.segments) {
    if (seg.end <= seg.start) continue;
    const fromMs = s.t[seg.start]!;
    const toMs = s.t[seg.end - 1]!;
    const last = out[out.length - 1];
    if (last && last.resolutionMs === seg.resolutionMs) last.toMs = toMs;
    else out.push({ fromMs, toMs, resolutionMs: seg.resolutionMs });
  }
  return out;
}

/** `1 s`, `24 s`, `1 min`, `12 min`, `2 h` */
export function formatStep(ms: number): string {
  const s = Math.round(ms / 1000);
  if (s < 60) return `${s} s`;
  if (s < 3600) return `${Math.round(s / 60)} min`;
  return `${Math.round(s / 3600)} h`;
}

/** Rows of `next` newer than the last of `cur` appended, then rows older than `fromSec` dropped. */
export function appendAligned(cur: AlignedSeries, next: AlignedSeries, fromSec: number): AlignedSeries {
  const last = cur[0][cur[0].length - 1] ?? -Infinity;
  const start = next[0].findIndex((x) => x > last);
  const t = start < 0 ? cur[0] : [...cur[0], ...next[0].slice(start)];
  const cols = cur.slice(1).map((c, k) => (start < 0 ? (c as (number | null)[]) : [...(c as (number | null)[]), ...(next[k + 1] as (number | null)[]).slice(start)]));
  let drop = 0;
  while (drop < t.length && t[drop]! < fromSec) drop++;
  return [t.slice(drop), ...cols.map((c) => c.slice(drop))];
}

/** The step that keeps a span at about `points` points (never finer than the server's 1 s). */
export function stepFor(spanMs: number, points = 3600): number {
  return Math.max(1000, Math.ceil(spanMs / points / 1000) * 1000);
}
