/**
 * The roll-up of the in-memory rings into buckets: every point in memory before the cursor has been written to the
 * disk tier; rolling up to a time aggregates each bucket between the cursor and it (sample count, mean, min, max per
 * series) and writes it in one transaction of its own, moving the cursor past it. A run starts its cursor at the
 * bucket in progress (what an earlier run flushed of it is merged into); what fell out of the rings meanwhile (the
 * process was stopped or starved for a while) cannot be rolled up any more and is skipped.
 */
import type { Clock } from '../../clock.ts';
import type { History } from '../../monitor/history.ts';
import type { Bucket } from './slots.ts';
import type { HistoryTables } from './tables.ts';

/** The bucket of a run of values (not empty): how many, their mean, min and max. */
export function aggregate(values: readonly number[]): Bucket {
  let sum = 0;
  let min = Infinity;
  let max = -Infinity;
  for (const x of values) {
    sum += x;
    if (x < min) min = x;
    if (x > max) max = x;
  }
  return { n: values.length, mean: sum / values.length, min, max };
}

export class RollUp {
  /** every point in memory before this (epoch ms, a whole second) has been rolled up */
  private cursor: number;

  constructor(
    private readonly clock: Clock,
    private readonly history: History,
    private readonly tables: HistoryTables,
    private readonly bucketMs: number,
  ) {
    // this run has rolled up nothing: the bucket in progress is written whole (what an earlier run flushed of it is merged)
    this.cursor = Math.floor(this.clock.now() / bucketMs) * bucketMs;
  }

  /** Until when memory has been rolled up (epoch ms). */
  get until(): number {
    return this.cursor;
  }

  /** Roll up memory's points in [cursor, endMs), one transaction per bucket; returns how many buckets were written. */
  to(endMs: number): number {
    // what fell out of the rings cannot be rolled up any more (the process was stopped or starved for a while)
    const oldest = Math.floor((this.clock.now() - this.history.seconds * 1000) / this.bucketMs) * this.bucketMs;
    if (this.cursor < oldest) this.cursor = oldest;
    let written = 0;
    while (this.cursor < endMs) {
      const to = Math.min((Math.floor(this.cursor / this.bucketMs) + 1) * this.bucketMs, endMs);
      if (this.writeBucket(this.cursor, to)) written++;
      this.cursor = to;
    }
    return written;
  }

  /** Aggregate memory's points in [fromMs, toMs) (within one bucket) per series and write them in one transaction. */
  private writeBucket(fromMs: number, toMs: number): boolean {
    const buckets: [string, Bucket][] = [];
    for (const name of this.history.names()) {
      const { v } = this.history.query(name, fromMs, toMs - 1);
      if (v.length === 0) continue;
      buckets.push([name, aggregate(v)]);
    }
    if (buckets.length === 0) return false;
    this.tables.write(Math.floor(fromMs / this.bucketMs) * this.bucketMs, buckets);
    return true;
  }
}
