/**
 * The queries that join memory and the disk tier, per series: memory serves t ≥ S and the disk t < S, where S is
 * the bucket boundary at or after the oldest point in memory when that bucket is on disk already, else the boundary
 * before it (then the part of that bucket an earlier run wrote shows once the bucket is rolled up). A range that
 * starts after the disk's last bucket before S is served by memory alone, from its start: the default last hour is
 * what the rings hold. With a step, points finer than it are averaged per step-aligned bucket (weighted by samples).
 */
import type { HistorySegment, HistorySeries } from '../../../shared/api.ts';
import type { History } from '../../monitor/history.ts';
import type { HistoryTables } from './tables.ts';

/** Points of one series as GET /api/history answers them (without the name). */
export type HistoryPoints = Omit<HistorySeries, 'name'>;

export interface StitchSources {
  history: History;
  tables: HistoryTables;
  bucketMs: number;
  retentionMs: number;
  now: () => number;
  /** until when memory has been rolled up (epoch ms) */
  rolledUntilMs: () => number;
}

/**
 * Points with sinceMs ≤ t ≤ untilMs, oldest first: the disk's buckets before the switch point, memory's seconds
 * from it. With `stepMs` (> 1000), points finer than it become the mean of each step-aligned bucket (weighted by
 * samples); coarser ones stay as they are.
 */
export function stitchQuery(src: StitchSources, name: string, sinceMs: number, untilMs: number, stepMs?: number): HistoryPoints {
  const out = new Stitcher(stepMs && stepMs > 1000 ? stepMs : 0);
  let switchMs = switchPoint(src, name);
  // a range starting after the last disk bucket before the switch would show none of it: memory serves it all
  if (sinceMs > switchMs - src.bucketMs) switchMs = sinceMs;
  const id = src.tables.find(name);
  const from = Math.max(sinceMs, src.now() - src.retentionMs);
  const to = Math.min(untilMs, switchMs - 1, src.now());
  if (id !== undefined && from <= to) {
    const disk = src.tables.read(id, from, to);
    for (let i = 0; i < disk.t.length; i++) out.push(disk.t[i]!, disk.v[i]!, disk.n[i]!, disk.res[i]!);
  }
  if (switchMs <= untilMs) {
    const mem = src.history.query(name, switchMs, untilMs);
    for (let i = 0; i < mem.t.length; i++) out.push(mem.t[i]!, mem.v[i]!, 1, 1000);
  }
  return out.result();
}

/** Where memory takes over from the disk for a series (epoch ms, a bucket boundary); Infinity when memory has none of it. */
function switchPoint(src: StitchSources, name: string): number {
  const oldest = src.history.oldestMs(name);
  if (oldest === null) return Infinity;
  const up = Math.ceil(oldest / src.bucketMs) * src.bucketMs;
  return up <= src.rolledUntilMs() ? up : Math.floor(oldest / src.bucketMs) * src.bucketMs;
}

/**
 * Builds the columnar answer from points in time order, each with a weight (samples) and a resolution. With a step,
 * points finer than it are averaged per step-aligned bucket; a point whose label is not after the previous one's
 * (a duplicate second) is merged into it.
 */
export class Stitcher {
  private readonly t: number[] = [];
  private readonly v: number[] = [];
  private readonly res: number[] = [];
  private at = NaN;
  private first = 0;
  private sum = 0;
  private weight = 0;
  private inputs = 0;
  private resolution = 0;

  /** `step`: the step of the answer (ms), or 0 for none */
  constructor(private readonly step: number) {}

  push(t: number, v: number, weight: number, resolution: number): void {
    const fine = this.step > 0 && resolution < this.step;
    const label = fine ? Math.floor(t / this.step) * this.step : t;
    const r = fine ? this.step : resolution;
    if (this.inputs > 0 && label <= this.at) {
      this.sum += v * weight;
      this.weight += weight;
      this.inputs++;
      if (r > this.resolution) this.resolution = r;
      return;
    }
    this.flush();
    this.at = label;
    this.first = v;
    this.sum = v * weight;
    this.weight = weight;
    this.inputs = 1;
    this.resolution = r;
  }

  result(): HistoryPoints {
    this.flush();
    const segments: HistorySegment[] = [];
    for (let i = 0; i < this.t.length; i++) {
      const last = segments[segments.length - 1];
      if (last && last.resolutionMs === this.res[i]) last.end = i + 1;
      else segments.push({ start: i, end: i + 1, resolutionMs: this.res[i]! });
    }
    return { t: this.t, v: this.v, segments };
  }

  private flush(): void {
    if (this.inputs === 0) return;
    this.t.push(this.at);
    // one input: its value as it is (no rounding through sum / weight)
    this.v.push(this.inputs === 1 ? this.first : this.sum / this.weight);
    this.res.push(this.resolution);
    this.inputs = 0;
  }
}
