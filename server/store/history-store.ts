/**
 * The on-disk history tier. The in-memory rings (monitor/history.ts: one point per second for the last hour) are
 * rolled up into buckets (1 min by default: sample count, mean, min, max) kept in SQLite for the retention (30 days
 * by default), and read back stitched onto the rings: GET /api/history serves what memory holds at 1 s and what is
 * older from the buckets, oldest first.
 *
 * Roll-up: a timer fires `graceMs` after each bucket ends (late samples still land in their second first); every
 * bucket not yet on disk is written in one transaction of its own. A chunk row holds 60 buckets of one series
 * (migration 4: float32 slots, keyed by time first); each series keeps its current chunk in memory and rewrites the
 * row. A chunk found on disk (written by an earlier run) is merged into: counts add up and means are weighted by them,
 * so the part of a bucket flushed by `close()` and the rest rolled up after a restart make one bucket. Pruning (at
 * start, then once a chunk's length: hourly by default) drops chunks that ended before the retention, and the names
 * of series left without any.
 *
 * Stitching, per series: memory serves t ≥ S and the disk t < S, where S is the bucket boundary at or after the
 * oldest point in memory when that bucket is on disk already, else the boundary before it (then the part of that
 * bucket an earlier run wrote shows once the bucket is rolled up). A range that starts after the disk's last bucket
 * before S is served by memory alone, from its start: the default last hour is what the rings hold, as before.
 */
import type { Statement, Transaction } from 'better-sqlite3';
import type { HistorySegment, HistorySeries } from '../../shared/api.ts';
import type { Clock, Timer } from '../clock.ts';
import type { Logger } from '../log.ts';
import type { History } from '../monitor/history.ts';
import type { Db } from './db.ts';

/** Buckets per chunk row. */
export const BUCKETS_PER_CHUNK = 60;
/** n (uint16), mean, min, max (float32), little-endian */
const SLOT_BYTES = 14;
const CHUNK_BYTES = BUCKETS_PER_CHUNK * SLOT_BYTES;
const MAX_COUNT = 0xffff;
/** meta key: the bucket lengths (s) chunks on disk were written with, a JSON array */
const BUCKET_SIZES_KEY = 'history_bucket_sizes';

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

/** Points of one series as GET /api/history answers them (without the name). */
export type HistoryPoints = Omit<HistorySeries, 'name'>;

/** One bucket of one series. */
export interface Bucket {
  n: number;
  mean: number;
  min: number;
  max: number;
}

interface Chunk {
  /** epoch s */
  start: number;
  data: Buffer;
}

export class HistoryStore {
  readonly bucketMs: number;
  readonly retentionMs: number;
  readonly graceMs: number;
  private readonly bucketS: number;
  private readonly chunkMs: number;
  private readonly clock: Clock;
  private readonly history: History;
  private readonly log: Logger | undefined;
  /** every name in history_series → its id */
  private readonly ids = new Map<string, number>();
  /** the chunk being filled, per series id */
  private readonly open = new Map<number, Chunk>();
  /** every point in memory before this (epoch ms, a whole second) has been rolled up */
  private cursor: number;
  /** the bucket lengths (s) of the chunks on disk: queries look for chunks of each */
  private bucketSizes: number[];
  private timer: Timer | null = null;
  private closed = false;
  private prunedAt = -Infinity;

  private readonly selectNames: Statement<[], { id: number; name: string }>;
  private readonly selectMeta: Statement<[string], { value: string }>;
  private readonly insertName: Statement<[string, number], { id: number }>;
  private readonly extendSeries: Statement<[number, number]>;
  private readonly deleteEmpty: Statement<[number], { id: number; name: string }>;
  private readonly selectChunk: Statement<[number, number, number], { data: Buffer }>;
  private readonly upsertChunk: Statement<[number, number, number, Buffer]>;
  private readonly deleteOld: Statement<[number, number]>;
  private readonly setMeta: Statement<[string, string]>;
  private readonly writeTx: Transaction<(bucketStartMs: number, buckets: [string, Bucket][]) => void>;
  private readonly pruneTx: Transaction<(cutoffS: number) => number>;

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
    this.bucketS = bucketMs / 1000;
    this.chunkMs = bucketMs * BUCKETS_PER_CHUNK;
    this.clock = opts.clock;
    this.history = opts.history;
    this.log = opts.log;
    // this run has rolled up nothing: the bucket in progress is written whole (what an earlier run flushed of it is merged)
    this.cursor = Math.floor(this.clock.now() / bucketMs) * bucketMs;

    this.selectNames = db.prepare('SELECT id, name FROM history_series');
    this.insertName = db.prepare('INSERT INTO history_series (name, chunks_until) VALUES (?, ?) RETURNING id');
    this.extendSeries = db.prepare('UPDATE history_series SET chunks_until = max(chunks_until, ?) WHERE id = ?');
    this.deleteEmpty = db.prepare('DELETE FROM history_series WHERE chunks_until <= ? RETURNING id, name');
    this.selectChunk = db.prepare('SELECT data FROM history_chunks WHERE start = ? AND series_id = ? AND bucket_s = ?');
    this.upsertChunk = db.prepare(`INSERT INTO history_chunks (start, series_id, bucket_s, data) VALUES (?, ?, ?, ?)
      ON CONFLICT (start, series_id, bucket_s) DO UPDATE SET data = excluded.data`);
    this.deleteOld = db.prepare(`DELETE FROM history_chunks WHERE start < ? AND start + ${BUCKETS_PER_CHUNK} * bucket_s <= ?`);
    this.setMeta = db.prepare('INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value');
    this.selectMeta = db.prepare('SELECT value FROM meta WHERE key = ?');
    this.bucketSizes = [];
    this.load();

    this.writeTx = db.transaction((bucketStartMs: number, buckets: [string, Bucket][]) => {
      if (!this.bucketSizes.includes(this.bucketS)) {
        this.setMeta.run(BUCKET_SIZES_KEY, JSON.stringify([...this.bucketSizes, this.bucketS]));
        this.bucketSizes = [...this.bucketSizes, this.bucketS];
      }
      const chunkStartMs = Math.floor(bucketStartMs / this.chunkMs) * this.chunkMs;
      const slot = (bucketStartMs - chunkStartMs) / this.bucketMs;
      const start = chunkStartMs / 1000;
      for (const [name, b] of buckets) {
        const id = this.idOf(name, start + this.chunkMs / 1000);
        const chunk = this.chunkOf(id, start);
        mergeSlot(chunk.data, slot, b);
        this.upsertChunk.run(start, id, this.bucketS, chunk.data);
      }
    });
    this.pruneTx = db.transaction((cutoffS: number) => {
      const dropped = this.deleteOld.run(cutoffS, cutoffS).changes;
      for (const { id, name } of this.deleteEmpty.all(cutoffS)) {
        this.ids.delete(name);
        this.open.delete(id);
      }
      return dropped;
    });
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
    return this.pruneTx.immediate(Math.floor((this.prunedAt - this.retentionMs) / 1000));
  }

  /** Series in memory or on disk, sorted. */
  names(): string[] {
    return [...new Set([...this.history.names(), ...this.ids.keys()])].sort();
  }

  has(name: string): boolean {
    return this.history.has(name) || this.ids.has(name);
  }

  /** Until when memory has been rolled up (epoch ms): every point in memory before it is on disk. */
  get rolledUntilMs(): number {
    return this.cursor;
  }

  /**
   * Points with sinceMs ≤ t ≤ untilMs, oldest first: the disk's buckets before the switch point, memory's seconds
   * from it. With `stepMs` (> 1000), points finer than it become the mean of each step-aligned bucket (weighted by
   * samples); coarser ones stay as they are.
   */
  query(name: string, sinceMs: number, untilMs: number, stepMs?: number): HistoryPoints {
    const out = new Stitcher(stepMs && stepMs > 1000 ? stepMs : 0);
    let switchMs = this.switchMs(name);
    // a range starting after the last disk bucket before the switch would show none of it: memory serves it all
    if (sinceMs > switchMs - this.bucketMs) switchMs = sinceMs;
    const id = this.ids.get(name);
    const from = Math.max(sinceMs, this.clock.now() - this.retentionMs);
    const to = Math.min(untilMs, switchMs - 1, this.clock.now());
    if (id !== undefined && from <= to) {
      const disk = this.readDisk(id, from, to);
      for (let i = 0; i < disk.t.length; i++) out.push(disk.t[i]!, disk.v[i]!, disk.n[i]!, disk.res[i]!);
    }
    if (switchMs <= untilMs) {
      const mem = this.history.query(name, switchMs, untilMs);
      for (let i = 0; i < mem.t.length; i++) out.push(mem.t[i]!, mem.v[i]!, 1, 1000);
    }
    return out.result();
  }

  /** Where memory takes over from the disk for a series (epoch ms, a bucket boundary); Infinity when memory has none of it. */
  private switchMs(name: string): number {
    const oldest = this.history.oldestMs(name);
    if (oldest === null) return Infinity;
    const up = Math.ceil(oldest / this.bucketMs) * this.bucketMs;
    return up <= this.cursor ? up : Math.floor(oldest / this.bucketMs) * this.bucketMs;
  }

  /**
   * Buckets of a series with from ≤ t ≤ to, in time order: one lookup per chunk (chunks are keyed by time first),
   * for each bucket length chunks were written with (those of different lengths may interleave).
   */
  private readDisk(id: number, from: number, to: number): { t: number[]; v: number[]; n: number[]; res: number[] } {
    const t: number[] = [];
    const v: number[] = [];
    const n: number[] = [];
    const res: number[] = [];
    let sorted = true;
    for (const bucketS of this.bucketSizes) {
      const chunkS = BUCKETS_PER_CHUNK * bucketS;
      for (let start = Math.floor(from / 1000 / chunkS) * chunkS; start * 1000 <= to; start += chunkS) {
        const data = this.selectChunk.get(start, id, bucketS)?.data;
        if (!data) continue;
        const slots = Math.floor(data.length / SLOT_BYTES);
        for (let i = 0; i < slots; i++) {
          const o = i * SLOT_BYTES;
          const count = data.readUInt16LE(o);
          if (count === 0) continue;
          const at = (start + i * bucketS) * 1000;
          if (at < from || at > to) continue;
          if (t.length && at < t[t.length - 1]!) sorted = false;
          t.push(at);
          v.push(data.readFloatLE(o + 2));
          n.push(count);
          res.push(bucketS * 1000);
        }
      }
    }
    if (sorted) return { t, v, n, res };
    const order = t.map((_, i) => i).sort((a, b) => t[a]! - t[b]!);
    return { t: order.map((i) => t[i]!), v: order.map((i) => v[i]!), n: order.map((i) => n[i]!), res: order.map((i) => res[i]!) };
  }

  /** Roll up memory's points in [cursor, endMs), one transaction per bucket. */
  private rollUntil(endMs: number): number {
    if (this.closed) throw new Error('history store is closed');
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
      let sum = 0;
      let min = Infinity;
      let max = -Infinity;
      for (const x of v) {
        sum += x;
        if (x < min) min = x;
        if (x > max) max = x;
      }
      buckets.push([name, { n: v.length, mean: sum / v.length, min, max }]);
    }
    if (buckets.length === 0) return false;
    try {
      this.writeTx.immediate(Math.floor(fromMs / this.bucketMs) * this.bucketMs, buckets);
    } catch (err) {
      // the transaction was rolled back: forget what it changed in memory (open chunks, new names, bucket sizes)
      this.open.clear();
      this.load();
      throw err;
    }
    return true;
  }

  /** Read the series names and the bucket sizes of the chunks from the database. */
  private load(): void {
    this.ids.clear();
    for (const r of this.selectNames.all()) this.ids.set(r.name, r.id);
    const sizes = this.selectMeta.get(BUCKET_SIZES_KEY);
    this.bucketSizes = sizes ? (JSON.parse(sizes.value) as number[]) : [];
  }

  /** The id of a series that is getting a chunk ending at `chunkEndS` (interned now if new). */
  private idOf(name: string, chunkEndS: number): number {
    let id = this.ids.get(name);
    if (id === undefined) {
      id = this.insertName.get(name, chunkEndS)!.id;
      this.ids.set(name, id);
    }
    return id;
  }

  /** The series' chunk starting at `start` (epoch s): the open one, the one on disk, or a new one. */
  private chunkOf(id: number, start: number): Chunk {
    const open = this.open.get(id);
    if (open && open.start === start) return open;
    const data = Buffer.alloc(CHUNK_BYTES);
    this.selectChunk.get(start, id, this.bucketS)?.data.copy(data, 0, 0, CHUNK_BYTES);
    this.extendSeries.run(start + this.chunkMs / 1000, id);
    const chunk = { start, data };
    this.open.set(id, chunk);
    return chunk;
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

/** Merge a bucket into a chunk's slot: counts add up, means are weighted by them. */
export function mergeSlot(data: Buffer, slot: number, b: Bucket): void {
  const o = slot * SLOT_BYTES;
  const n0 = data.readUInt16LE(o);
  let { n, mean, min, max } = b;
  if (n0 > 0) {
    const mean0 = data.readFloatLE(o + 2);
    mean = (mean0 * n0 + mean * n) / (n0 + n);
    min = Math.min(min, data.readFloatLE(o + 6));
    max = Math.max(max, data.readFloatLE(o + 10));
    n += n0;
  }
  data.writeUInt16LE(Math.min(n, MAX_COUNT), o);
  data.writeFloatLE(mean, o + 2);
  data.writeFloatLE(min, o + 6);
  data.writeFloatLE(max, o + 10);
}

/** Read one slot of a chunk (null when it holds no point). */
export function readSlot(data: Buffer, slot: number): Bucket | null {
  const o = slot * SLOT_BYTES;
  if (o + SLOT_BYTES > data.length) return null;
  const n = data.readUInt16LE(o);
  return n === 0 ? null : { n, mean: data.readFloatLE(o + 2), min: data.readFloatLE(o + 6), max: data.readFloatLE(o + 10) };
}

/**
 * Builds the columnar answer from points in time order, each with a weight (samples) and a resolution. With a step,
 * points finer than it are averaged per step-aligned bucket; a point whose label is not after the previous one's
 * (a duplicate second) is merged into it.
 */
class Stitcher {
  private readonly t: number[] = [];
  private readonly v: number[] = [];
  private readonly res: number[] = [];
  private at = NaN;
  private first = 0;
  private sum = 0;
  private weight = 0;
  private inputs = 0;
  private resolution = 0;

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
