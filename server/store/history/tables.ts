/**
 * The tables of the on-disk history tier (migration 4) and what this process keeps of them: the series names
 * (interned in `history_series`: chunks name their series by id), the bucket lengths chunks were written with (in
 * `meta`: a query looks for chunks of each), and each series' chunk being filled, rewritten whole at each bucket.
 * A chunk found on disk (written by an earlier run) is read into the open one first, so that its slots are merged
 * into rather than overwritten.
 */
import type { SqlStatement as Statement, SqlTransaction as Transaction } from '../sql.ts';
import type { Db } from '../db.ts';
import { BUCKETS_PER_CHUNK, CHUNK_BYTES, mergeSlot, SLOT_BYTES, type Bucket } from './slots.ts';

/** meta key: the bucket lengths (s) chunks on disk were written with, a JSON array */
const BUCKET_SIZES_KEY = 'history_bucket_sizes';

interface Chunk {
  /** epoch s */
  start: number;
  data: Buffer;
}

/** Buckets of one series, in time order: bucket start (epoch ms), mean, samples, bucket length (ms). */
export interface DiskPoints {
  t: number[];
  v: number[];
  n: number[];
  res: number[];
}

export class HistoryTables {
  private readonly bucketS: number;
  private readonly chunkMs: number;
  /** every name in history_series → its id */
  private readonly ids = new Map<string, number>();
  /** the chunk being filled, per series id */
  private readonly open = new Map<number, Chunk>();
  /** the bucket lengths (s) of the chunks on disk: queries look for chunks of each */
  private bucketSizes: number[];

  private readonly selectNames: Statement<[], { id: number; name: string }>;
  private readonly selectMeta: Statement<[string], { value: string }>;
  private readonly insertName: Statement<[string, number], { id: number }>;
  private readonly extendSeries: Statement<[number, number]>;
  private readonly selectChunk: Statement<[number, number, number], { data: Buffer }>;
  private readonly upsertChunk: Statement<[number, number, number, Buffer]>;
  private readonly setMeta: Statement<[string, string]>;
  private readonly writeTx: Transaction<(bucketStartMs: number, buckets: [string, Bucket][]) => void>;

  /** `bucketMs`: the bucket length this process writes. */
  constructor(db: Db, private readonly bucketMs: number) {
    this.bucketS = bucketMs / 1000;
    this.chunkMs = bucketMs * BUCKETS_PER_CHUNK;
    this.selectNames = db.prepare('SELECT id, name FROM history_series');
    this.insertName = db.prepare('INSERT INTO history_series (name, chunks_until) VALUES (?, ?) RETURNING id');
    const larger = db.dialect === 'postgres' ? 'greatest' : 'max';
    this.extendSeries = db.prepare(`UPDATE history_series SET chunks_until = ${larger}(chunks_until, ?) WHERE id = ?`);
    this.selectChunk = db.prepare('SELECT data FROM history_chunks WHERE start = ? AND series_id = ? AND bucket_s = ?');
    this.upsertChunk = db.prepare(`INSERT INTO history_chunks (start, series_id, bucket_s, data) VALUES (?, ?, ?, ?)
      ON CONFLICT (start, series_id, bucket_s) DO UPDATE SET data = excluded.data`);
    this.setMeta = db.prepare('INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value');
    this.selectMeta = db.prepare('SELECT value FROM meta WHERE key = ?');
    this.bucketSizes = [];
    this.load();

    this.writeTx = db.transaction((bucketStartMs: number, buckets: [string, Bucket][]) => {
      if (!this.bucketSizes.includes(this.bucketS)) {
        this.setMeta.write(BUCKET_SIZES_KEY, JSON.stringify([...this.bucketSizes, this.bucketS]));
        this.bucketSizes = [...this.bucketSizes, this.bucketS];
      }
      const chunkStartMs = Math.floor(bucketStartMs / this.chunkMs) * this.chunkMs;
      const slot = (bucketStartMs - chunkStartMs) / this.bucketMs;
      const start = chunkStartMs / 1000;
      for (const [name, b] of buckets) {
        const id = this.idOf(name, start + this.chunkMs / 1000);
        const chunk = this.chunkOf(id, start);
        mergeSlot(chunk.data, slot, b);
        this.upsertChunk.write(start, id, this.bucketS, chunk.data);
      }
    });
  }

  /** The names of the series on disk. */
  names(): IterableIterator<string> {
    return this.ids.keys();
  }

  has(name: string): boolean {
    return this.ids.has(name);
  }

  /** The id of a series on disk. */
  find(name: string): number | undefined {
    return this.ids.get(name);
  }

  /** A series pruned away (it has no chunk left): forget its name and its open chunk. */
  forget(id: number, name: string): void {
    this.ids.delete(name);
    this.open.delete(id);
  }

  /**
   * Write one bucket of each series in one transaction (merged into what the slot holds). When it fails, what it
   * changed in memory (open chunks, new names, bucket sizes) is read again from the database.
   */
  write(bucketStartMs: number, buckets: [string, Bucket][]): void {
    try {
      this.writeTx.immediate(bucketStartMs, buckets);
    } catch (err) {
      // the transaction was rolled back: forget what it changed in memory (open chunks, new names, bucket sizes)
      this.open.clear();
      this.load();
      throw err;
    }
  }

  /**
   * Buckets of a series with from ≤ t ≤ to, in time order: one lookup per chunk (chunks are keyed by time first),
   * for each bucket length chunks were written with (those of different lengths may interleave).
   */
  read(id: number, from: number, to: number): DiskPoints {
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
    this.extendSeries.write(start + this.chunkMs / 1000, id);
    const chunk = { start, data };
    this.open.set(id, chunk);
    return chunk;
  }
}
