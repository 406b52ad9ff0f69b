import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ManualClock } from '../../server/clock.ts';
import { ConfigError, loadConfig } from '../../server/config.ts';
import { History } from '../../server/monitor/history.ts';
import { HistoryStore, readSlot, type HistoryStoreOptions } from '../../server/store/history-store.ts';
import type { Db } from '../../server/store/sql.ts';
import { storeEngines, type StoreEngine } from '../helpers/store-engines.ts';

/** an hour boundary: chunk rows start on it */
const T0 = Math.ceil(1_700_000_000_000 / 3_600_000) * 3_600_000;
const MIN = 60_000;

const stores: HistoryStore[] = [];
afterEach(() => {
  stores.splice(0);
});
/** Inserts into history_chunks fail as on a full disk, until `end()`. */
function fullDisk(db: Db): { end(): void } {
  if (db.dialect === 'sqlite') {
    db.exec("CREATE TEMP TRIGGER full BEFORE INSERT ON history_chunks BEGIN SELECT RAISE(ABORT, 'database or disk is full'); END");
    return { end: () => db.exec('DROP TRIGGER full') };
  }
  db.prepare("CREATE FUNCTION full_disk() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION 'could not extend file: No space left on device'; END $$").run();
  db.prepare('CREATE TRIGGER disk_full BEFORE INSERT ON history_chunks FOR EACH ROW EXECUTE FUNCTION full_disk()').run();
  return { end: () => db.prepare('DROP TRIGGER disk_full ON history_chunks').run() };
}

/** the engine of the test running (set by each engine's block) */
let sql: StoreEngine;
const tmp = () => sql.fresh();

/** One run of the process: the database at `where`, rings of `seconds`, a store on a manual clock at `at`. */
function run(where: string, at: number, opts: Partial<HistoryStoreOptions> = {}, seconds = 120) {
  const db = sql.open(where);
  const clock = new ManualClock(at);
  const history = new History(seconds);
  const store = new HistoryStore(db, { clock, history, ...opts });
  stores.push(store);
  /** one sample per second from now for `n` seconds (value: seconds since T0), then the clock is past the last */
  const feed = async (n: number, names = ['cpu.total']) => {
    for (let i = 0; i < n; i++) {
      for (const name of names) history.record(name, clock.now(), (clock.now() - T0) / 1000);
      await clock.advance(1000);
    }
  };
  /** the slots on disk of a series: [bucket start ms, slot] */
  const slots = (name: string) => {
    const rows = db.prepare(`SELECT c.start, c.bucket_s AS b, c.data FROM history_chunks c JOIN history_series s ON s.id = c.series_id
      WHERE s.name = ? ORDER BY c.start`).all(name) as { start: number; b: number; data: Buffer }[];
    const out: [number, NonNullable<ReturnType<typeof readSlot>>][] = [];
    for (const r of rows) {
      for (let i = 0; i < 60; i++) {
        const s = readSlot(r.data, i);
        if (s) out.push([(r.start + i * r.b) * 1000, s]);
      }
    }
    return out;
  };
  return { db, clock, history, store, feed, slots };
}

/** mean of the integers a…b */
const mean = (a: number, b: number) => (a + b) / 2;
const seconds = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, i) => T0 + (from + i) * 1000);
const values = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, i) => from + i);

describe.each(storeEngines())('HistoryStore on $name', (engine) => {
  beforeEach(() => {
    sql = engine;
  });

  describe('HistoryStore roll-up', () => {
    it('writes each bucket once it has ended and the grace has passed: count, mean, min, max', async () => {
      const { store, clock, history, feed, slots } = run(tmp(), T0);
      store.start();
      await feed(60); // seconds 0…59; now T0 + 60 s
      expect(slots('cpu.total')).toEqual([]);
      history.record('cpu.total', T0 + 59_500, 1709); // late sample of second 59 (overwrites it)
      await clock.advance(9_000); // T0 + 69 s: still inside the grace
      expect(slots('cpu.total')).toEqual([]);
      await clock.advance(1_000); // T0 + 70 s: minute 0 is rolled up
      expect(slots('cpu.total')).toEqual([[T0, { n: 60, mean: (mean(0, 58) * 59 + 1709) / 60, min: 0, max: 1709 }]]);
      expect(store.rolledUntilMs).toBe(T0 + MIN);
      expect(store.names()).toEqual(['cpu.total']);
    });

    it('catches up on every bucket it missed and skips buckets without points', async () => {
      const { store, clock, history, slots } = run(tmp(), T0, {}, 600);
      for (let s = 0; s < 300; s++) if (s < 60 || s >= 180) history.record('mem.used', T0 + s * 1000, s);
      await clock.advance(310_000);
      expect(store.rollUp()).toBe(3); // minutes 0, 3 and 4; 1 and 2 had no point
      expect(store.rolledUntilMs).toBe(T0 + 5 * MIN);
      expect(slots('mem.used').map(([t, s]) => [t, s.n, s.mean])).toEqual([
        [T0, 60, mean(0, 59)],
        [T0 + 3 * MIN, 60, mean(180, 239)],
        [T0 + 4 * MIN, 60, mean(240, 299)],
      ]);
      expect(store.rollUp()).toBe(0);
    });

    it('retries a bucket whose transaction failed, from a clean slate, and logs the failure when it runs on its timer', async () => {
      const warnings: string[] = [];
      const log = { warn: (_: unknown, msg: string) => void warnings.push(msg) } as unknown as HistoryStoreOptions['log'];
      const { db, store, clock, feed, slots } = run(tmp(), T0, { log });
      store.start();
      const full = fullDisk(db);
      await feed(70, ['cpu.total', 'new.series']); // the roll-up of minute 0 at 70 s fails
      expect(warnings).toEqual(['history roll-up failed']);
      expect(store.rolledUntilMs).toBe(T0);
      expect(store.has('new.series')).toBe(true); // in memory; its name was not kept on disk
      expect(db.prepare('SELECT count(*) AS n FROM history_series').get()).toEqual({ n: 0 });
      full.end();
      await clock.advance(MIN); // the next tick writes minute 0 and minute 1
      expect(slots('new.series').map(([t, s]) => [t, s.n])).toEqual([[T0, 60], [T0 + MIN, 10]]);
      expect(store.rolledUntilMs).toBe(T0 + 2 * MIN);
    });

    it('interns series names, lists series of either tier and knows each', async () => {
      const { store, history, clock } = run(tmp(), T0);
      history.record('a', T0, 1);
      history.record('b', T0, 2);
      await clock.advance(MIN + 10_000);
      store.rollUp();
      history.record('c', clock.now(), 3);
      expect(store.names()).toEqual(['a', 'b', 'c']);
      expect(['a', 'c', 'd'].map((n) => store.has(n))).toEqual([true, true, false]);
    });

    it('drops chunks older than the retention, and the names of series left without any', async () => {
      const dir = tmp();
      const { store, clock, history, feed, slots } = run(dir, T0, { retentionMs: 2 * 3_600_000 });
      store.start();
      await feed(90, ['cpu.total', 'gone']);
      await clock.advance(40_000); // T0 + 130 s: minute 1 rolled up
      expect(slots('gone')).toHaveLength(2);
      // an hour later the chunk of T0 is still within the retention
      for (let i = 0; i < 60; i++) {
        history.record('cpu.total', clock.now(), 1);
        await clock.advance(MIN);
      }
      history.prune(clock.now()); // as the status board does: 'gone' leaves memory
      expect(store.prune()).toBe(0);
      expect(store.query('gone', 0, clock.now()).t).toEqual([T0, T0 + MIN]);
      // at T0 + 2 h 30 s the first minute is outside the retention (no longer answered), its chunk not yet
      await clock.advance(3_500_000);
      expect(store.query('gone', 0, clock.now()).t).toEqual([T0 + MIN]);
      // the chunk ended more than two hours ago: the timer's prune, an hour after the one above, dropped it
      await clock.advance(3_720_000);
      expect(slots('gone')).toEqual([]);
      expect(store.has('gone')).toBe(false);
      expect(store.names()).toEqual(['cpu.total']);
      expect(slots('cpu.total').length).toBeGreaterThan(0);
    });

    it('refuses buckets that do not divide an hour or that the rings cannot hold twice, and a retention shorter than a bucket', () => {
      const db = sql.open(tmp());
      const clock = new ManualClock(T0);
      const history = new History(120);
      expect(() => new HistoryStore(db, { clock, history, bucketMs: 7_000 })).toThrow(/bucketMs must be whole seconds that divide an hour/);
      expect(() => new HistoryStore(db, { clock, history, bucketMs: 120_000 })).toThrow('bucketMs 120000 must be at most half the in-memory history (120000 ms)');
      expect(() => new HistoryStore(db, { clock, history, bucketMs: 30_000, retentionMs: 10_000 })).toThrow('retentionMs 10000 must be at least bucketMs 30000');
    });

    it('is configured by --history-bucket-ms and --history-retention-ms, checked against --history-seconds', () => {
      const c = loadConfig({}, {});
      expect([c.monitor.historyBucketMs, c.monitor.historyRetentionMs]).toEqual([60_000, 30 * 86_400_000]);
      expect(loadConfig({ historyBucketMs: '300000', historyRetentionMs: '86400000' }, {}).monitor).toMatchObject({ historyBucketMs: 300_000, historyRetentionMs: 86_400_000 });
      expect(() => loadConfig({}, { ARBITER_HISTORY_BUCKET_MS: '70000' })).toThrow(new ConfigError('invalid history bucket 70000 ms: must be whole seconds that divide an hour (e.g. 10000, 60000, 300000)'));
      expect(() => loadConfig({ historySeconds: '60' }, {})).toThrow('must be at most half the in-memory history of 60 s');
      expect(() => loadConfig({ historyRetentionMs: '1000' }, {})).toThrow(/--history-retention-ms "1000": expected an integer 3600000–/);
    });
  });

  describe('HistoryStore queries', () => {
    /** 5 minutes of samples in rings of 2 minutes; at T0 + 300 s minutes 0…3 are on disk, memory holds seconds 180…299 */
    async function fiveMinutes() {
      const r = run(tmp(), T0);
      r.store.start();
      await r.feed(300);
      expect(r.store.rolledUntilMs).toBe(T0 + 4 * MIN);
      expect(r.history.oldestMs('cpu.total')).toBe(T0 + 180_000);
      return r;
    }

    it('stitches the disk\'s minutes before the oldest point in memory to memory\'s seconds, oldest first', async () => {
      const { store, clock } = await fiveMinutes();
      const all = store.query('cpu.total', T0, clock.now());
      expect(all.t).toEqual([T0, T0 + MIN, T0 + 2 * MIN, ...seconds(180, 299)]);
      expect(all.v).toEqual([mean(0, 59), mean(60, 119), mean(120, 179), ...values(180, 299)]);
      expect(all.segments).toEqual([{ start: 0, end: 3, resolutionMs: MIN }, { start: 3, end: 123, resolutionMs: 1000 }]);
      // a range inside each tier, and across
      expect(store.query('cpu.total', T0 + MIN, T0 + 2 * MIN).t).toEqual([T0 + MIN, T0 + 2 * MIN]);
      expect(store.query('cpu.total', T0 + 290_000, T0 + 400_000).v).toEqual(values(290, 299));
      const across = store.query('cpu.total', T0 + 90_000, T0 + 181_000);
      expect(across.t).toEqual([T0 + 2 * MIN, T0 + 180_000, T0 + 181_000]);
      expect(across.segments).toEqual([{ start: 0, end: 1, resolutionMs: MIN }, { start: 1, end: 3, resolutionMs: 1000 }]);
      expect(store.query('nope', 0, clock.now())).toEqual({ t: [], v: [], segments: [] });
    });

    it('serves a range that starts after the last disk bucket before memory from memory alone', async () => {
      const { store, clock, feed } = run(tmp(), T0);
      store.start();
      await feed(310); // memory holds 190…309 s; minutes 0…4 are on disk: memory serves from 240 s when the disk has a minute to show
      expect(store.query('cpu.total', T0 + 170_000, clock.now()).t).toEqual([T0 + 3 * MIN, ...seconds(240, 309)]);
      expect(store.query('cpu.total', T0 + 200_000, clock.now()).t).toEqual(seconds(200, 309));
      expect(store.query('cpu.total', T0 + 200_000, clock.now()).segments).toEqual([{ start: 0, end: 110, resolutionMs: 1000 }]);
    });

    it('downsamples with stepMs: memory finer than the step and disk buckets finer than it, weighted by samples', async () => {
      const { store, clock } = await fiveMinutes();
      const minutes = store.query('cpu.total', T0, clock.now(), MIN);
      expect(minutes.t).toEqual([0, 1, 2, 3, 4].map((m) => T0 + m * MIN));
      expect(minutes.v).toEqual([0, 1, 2, 3, 4].map((m) => mean(m * 60, m * 60 + 59)));
      expect(minutes.segments).toEqual([{ start: 0, end: 5, resolutionMs: MIN }]);
      const two = store.query('cpu.total', T0, clock.now(), 2 * MIN);
      // minute 2 is a disk bucket (60 samples) and minute 3 memory's seconds: one bucket over 120 samples
      expect(two).toEqual({ t: [T0, T0 + 2 * MIN, T0 + 4 * MIN], v: [mean(0, 119), mean(120, 239), mean(240, 299)], segments: [{ start: 0, end: 3, resolutionMs: 2 * MIN }] });
      const tens = store.query('cpu.total', T0, clock.now(), 10_000);
      expect(tens.t).toEqual([T0, T0 + MIN, T0 + 2 * MIN, ...Array.from({ length: 12 }, (_, i) => T0 + 180_000 + i * 10_000)]);
      expect(tens.v.slice(3, 5)).toEqual([mean(180, 189), mean(190, 199)]);
      expect(tens.segments).toEqual([{ start: 0, end: 3, resolutionMs: MIN }, { start: 3, end: 15, resolutionMs: 10_000 }]);
      expect(store.query('cpu.total', T0, clock.now(), 1000)).toEqual(store.query('cpu.total', T0, clock.now()));
    });

    it('serves a series that left memory from the disk alone', async () => {
      const { store, clock, history, feed } = run(tmp(), T0);
      store.start();
      await feed(60, ['container.web.cpu', 'cpu.total']);
      await feed(300);
      history.prune(clock.now());
      expect(history.has('container.web.cpu')).toBe(false);
      expect(store.has('container.web.cpu')).toBe(true);
      expect(store.query('container.web.cpu', 0, clock.now())).toEqual({ t: [T0], v: [mean(0, 59)], segments: [{ start: 0, end: 1, resolutionMs: MIN }] });
    });
  });

  describe('HistoryStore across restarts', () => {
    it('keeps its buckets; the bucket in progress is flushed at close and completed by the next run', async () => {
      const dir = tmp();
      const first = run(dir, T0);
      first.store.start();
      await first.feed(90); // seconds 0…89
      first.store.close();
      first.db.close();

      // restarted 10 s later, in the same minute
      const second = run(dir, T0 + 100_000);
      expect(second.slots('cpu.total').map(([t, s]) => [t, s.n, s.mean])).toEqual([[T0, 60, mean(0, 59)], [T0 + MIN, 30, mean(60, 89)]]);
      expect(second.store.has('cpu.total')).toBe(true);
      expect(second.store.names()).toEqual(['cpu.total']);
      second.store.start();
      await second.feed(10); // seconds 100…109
      // minute 1 is not rolled up by this run yet: memory serves it from its oldest point; the flushed part waits
      const before = second.store.query('cpu.total', T0, second.clock.now());
      expect(before.t).toEqual([T0, ...seconds(100, 109)]);
      expect(before.segments).toEqual([{ start: 0, end: 1, resolutionMs: MIN }, { start: 1, end: 11, resolutionMs: 1000 }]);

      await second.feed(30); // seconds 110…139; minute 1 rolled up at 130 s, merged with what the first run flushed
      const merged = (mean(60, 89) * 30 + mean(100, 119) * 20) / 50;
      expect(second.slots('cpu.total').map(([t, s]) => [t, s.n, s.min, s.max])).toEqual([[T0, 60, 0, 59], [T0 + MIN, 50, 60, 119]]);
      expect(second.slots('cpu.total')[1]![1].mean).toBeCloseTo(merged, 4);
      const after = second.store.query('cpu.total', T0, second.clock.now());
      expect(after.t).toEqual([T0, T0 + MIN, ...seconds(120, 139)]);
      expect(after.v[1]).toBeCloseTo(merged, 4);
    });

    it('keeps the meaning of chunks written with another bucket length', async () => {
      const dir = tmp();
      const first = run(dir, T0);
      first.store.start();
      await first.feed(120); // minutes 0 and 1
      first.store.close();
      first.db.close();

      const second = run(dir, T0 + 600_000, { bucketMs: 30_000 });
      second.store.start();
      await second.feed(300); // seconds 600…899; at 900 s, 30-s buckets up to 870 s are on disk, memory holds 780…899
      const q = second.store.query('cpu.total', T0, second.clock.now());
      const halves = Array.from({ length: 6 }, (_, i) => 600 + i * 30);
      expect(q.t).toEqual([T0, T0 + MIN, ...halves.map((s) => T0 + s * 1000), ...seconds(780, 899)]);
      expect(q.v.slice(0, 8)).toEqual([mean(0, 59), mean(60, 119), ...halves.map((s) => mean(s, s + 29))]);
      expect(q.segments).toEqual([
        { start: 0, end: 2, resolutionMs: MIN },
        { start: 2, end: 8, resolutionMs: 30_000 },
        { start: 8, end: 128, resolutionMs: 1000 },
      ]);
    });
  });
});
