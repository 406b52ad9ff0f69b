/**
 * The on-disk history tier. The in-memory rings (monitor/history.ts: one point per second for the last hour) are
 * rolled up into buckets (1 min by default: sample count, mean, min, max) kept in SQLite for the retention (30 days
 * by default), and read back stitched onto the rings: GET /api/history serves what memory holds at 1 s and what is
 * older from the buckets, oldest first.
 *
 * This module checks the options, runs the timer and coordinates the parts in history/: `slots.ts` (the chunk row
 * format: a row holds 60 buckets of one series), `tables.ts` (statements, series names, the chunks being filled),
 * `rollup.ts` (memory → buckets), `stitch.ts` (queries that join memory and disk), `retention.ts` (pruning).
 *
 * Roll-up: a timer fires `graceMs` after each bucket ends (late samples still land in their second first); every
 * bucket not yet on disk is written in one transaction of its own. A chunk found on disk (written by an earlier run)
 * is merged into, so the part of a bucket flushed by `close()` and the rest rolled up after a restart make one
 * bucket. Pruning (at start, then once a chunk's length: hourly by default) drops chunks that ended before the
 * retention, and the names of series left without any.
 */
import type { Clock, Timer } from '../clock.ts';
import type { Logger } from '../log.ts';
import type { History } from '../monitor/history.ts';
import type { Db } from './db.ts';
import { prepareTrim } from './history/retention.ts';
import { RollUp } from './history/rollup.ts';
import { BUCKETS_PER_CHUNK } from './history/slots.ts';
import { stitchQuery, type HistoryPoints, type StitchSources } from './history/stitch.ts';
import { HistoryTables } from './history/tables.ts';

export { BUCKETS_PER_CHUNK, mergeSlot, readSlot, type Bucket } from './history/slots.ts';
export type { HistoryPoints } from './history/stitch.ts';

export const DEFAULT_BUCKET_MS = 60_000;
export const DEFAULT_RETENTION_MS = 30 * 86_400_000;

export interface HistoryStoreOptions {
  clock: Clock;
  /** the in-memory rings the buckets are rolled up from */
  history: History;
  /**
   * bucket length of the on-disk tier: whole seconds that divide an hour, at most half the in-memory window
   * @default 60_000
   */
  bucketMs?: number;
  /** buckets older than this are dropped @default 30 days */
  retentionMs?: number;
  /** how long after a bucket ends it is rolled up, for samples that arrive late @default min(10 s, bucketMs / 2) */
  graceMs?: number;
  log?: Logger;
}

export class HistoryStore {
  readonly bucketMs: number;
  readonly retentionMs: number;
  readonly graceMs: number;
  private readonly chunkMs: number;
  private readonly clock: Clock;
  private readonly history: History;
  private readonly log: Logger | undefined;
  private readonly tables: HistoryTables;
  private readonly rolled: RollUp;
  private readonly trim: (cutoffS: number) => number;
  private readonly sources: StitchSources;
  private timer: Timer | null = null;
  private closed = false;
  private prunedAt = -Infinity;

  constructor(db: Db, opts: HistoryStoreOptions) {
    const bucketMs = opts.bucketMs ?? DEFAULT_BUCKET_MS;
    const retentionMs = opts.retentionMs ?? DEFAULT_RETENTION_MS;
    const windowMs = opts.history.seconds * 1000;
    if (!(Number.isInteger(bucketMs) && bucketMs >= 1000 && bucketMs % 1000 === 0 && 3_600_000 % bucketMs === 0)) {
      throw new RangeError(`bucketMs must be whole seconds that divide an hour (60000, 300000…), not ${bucketMs}`);
    }
    if (bucketMs * 2 > windowMs) {
      throw new RangeError(`bucketMs ${bucketMs} must be at most half the in-memory history (${windowMs} ms): buckets are rolled up from it`);
    }
    if (!(retentionMs >= bucketMs)) throw new RangeError(`retentionMs ${retentionMs} must be at least bucketMs ${bucketMs}`);
    const graceMs = opts.graceMs ?? Math.min(10_000, bucketMs / 2);
    if (!(graceMs >= 0 && graceMs <= bucketMs / 2)) throw new RangeError(`graceMs must be 0–${bucketMs / 2} (half of bucketMs ${bucketMs}), not ${graceMs}`);
    this.bucketMs = bucketMs;
    this.retentionMs = retentionMs;
    this.graceMs = graceMs;
    this.chunkMs = bucketMs * BUCKETS_PER_CHUNK;
    this.clock = opts.clock;
    this.history = opts.history;
    this.log = opts.log;
    this.tables = new HistoryTables(db, bucketMs);
    this.rolled = new RollUp(this.clock, this.history, this.tables, bucketMs);
    this.trim = prepareTrim(db, (id, name) => this.tables.forget(id, name));
    this.sources = {
      history: this.history,
      tables: this.tables,
      bucketMs,
      retentionMs,
      now: () => this.clock.now(),
      rolledUntilMs: () => this.rolled.until,
    };
  }

  /** Roll up on a timer, `graceMs` after each bucket ends; prune once now and then once a chunk. */
  start(): void {
    if (this.timer || this.closed) return;
    this.guard('prune', () => this.prune());
    this.schedule();
  }

  /** Stop the timer and write what memory holds that is not on disk yet, the bucket in progress included. */
  close(): void {
    if (this.closed) return;
    this.timer?.cancel();
    this.timer = null;
    this.guard('flush', () => this.flush());
    this.closed = true;
  }

  /** Write the buckets that ended at least `graceMs` ago and are not on disk yet; returns how many were written. */
  rollUp(): number {
    const due = Math.floor((this.clock.now() - this.graceMs) / this.bucketMs) * this.bucketMs;
    return this.rollUntil(due);
  }

  /** rollUp() and the bucket in progress, up to the current second (shutdown). */
  flush(): number {
    return this.rollUntil(Math.floor(this.clock.now() / 1000) * 1000 + 1000);
  }

  /** Drop chunks that ended more than `retentionMs` ago, and the names of series left without any; returns chunks dropped. */
  prune(): number {
    this.prunedAt = this.clock.now();
    return this.trim(Math.floor((this.prunedAt - this.retentionMs) / 1000));
  }

  /** Series in memory or on disk, sorted. */
  names(): string[] {
    return [...new Set([...this.history.names(), ...this.tables.names()])].sort();
  }

  has(name: string): boolean {
    return this.history.has(name) || this.tables.has(name);
  }

  /** Until when memory has been rolled up (epoch ms): every point in memory before it is on disk. */
  get rolledUntilMs(): number {
    return this.rolled.until;
  }

  /**
   * Points with sinceMs ≤ t ≤ untilMs, oldest first: the disk's buckets before the switch point, memory's seconds
   * from it. With `stepMs` (> 1000), points finer than it become the mean of each step-aligned bucket (weighted by
   * samples); coarser ones stay as they are.
   */
  query(name: string, sinceMs: number, untilMs: number, stepMs?: number): HistoryPoints {
    return stitchQuery(this.sources, name, sinceMs, untilMs, stepMs);
  }

  /** Roll up memory's points before `endMs`, one transaction per bucket. */
  private rollUntil(endMs: number): number {
    if (this.closed) throw new Error('history store is closed');
    return this.rolled.to(endMs);
  }

  private schedule(): void {
    const now = this.clock.now();
    const next = (Math.floor((now - this.graceMs) / this.bucketMs) + 1) * this.bucketMs + this.graceMs;
    this.timer = this.clock.setTimeout(() => {
      this.timer = null;
      this.guard('roll-up', () => this.rollUp());
      if (this.clock.now() - this.prunedAt >= this.chunkMs) this.guard('prune', () => this.prune());
      this.schedule();
    }, next - now);
  }

  /** Run a step of the timer or of shutdown; a failure (disk full…) is logged and retried at the next bucket. */
  private guard(what: string, fn: () => unknown): void {
    try {
      fn();
    } catch (err) {
      if (!this.log) throw err;
      this.log.warn({ err }, `history ${what} failed`);
    }
  }
}
