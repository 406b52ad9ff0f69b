/**
 * history: the on-disk history tier (server/store/history-store.ts) with ~200 series at 1 s.
 *   roll-up   HistoryStore.rollUp() of one 1-minute bucket of every series (one transaction), over simulated days
 *             (the rings are filled with 60 points per series between roll-ups; only rollUp() is timed)
 *   disk      bytes of the history tables per series-day (dbstat, after a checkpoint) and WAL pages per roll-up,
 *             next to two layouts not taken (one row per series and minute with REAL mean/min/max; the same chunks
 *             keyed by series first), filled in the same order
 *   prune     HistoryStore.prune() dropping one day of chunks
 *   query     HistoryStore.query() of one series over the whole range, raw and with stepMs = 1 h
 * `node --import tsx --import ./bench/compiled.ts bench/history.ts [--quick]` or from bench/run.ts (`npm run bench -- --only history`).
 */
import { fileURLToPath } from 'node:url';
import type { Clock } from '../server/clock.ts';
import { History } from '../server/monitor/history.ts';
import { openDatabase, type SqliteDb } from '../server/store/db.ts';
import { HistoryStore } from '../server/store/history-store.ts';
import { fmt, machine, percentile, removeDir, table, tempDir, type BenchOptions, type BenchResult } from './lib.ts';

const SERIES = 200;
const DAY = 86_400_000;
const T0 = Math.ceil(Date.UTC(2025, 0, 1) / 3_600_000) * 3_600_000;

/** A clock the simulation sets; the store's timer is not used (rollUp() is called directly). */
class SimClock implements Clock {
  t = T0;
  now(): number {
    return this.t;
  }
  setTimeout(): { cancel(): void } {
    return { cancel() {} };
  }
}

/** Series names as a big machine has them: cores, GPUs, disks, interfaces, containers. */
function seriesNames(): string[] {
  const names = ['cpu.total', 'mem.used', 'swap.used'];
  for (let i = 0; i < 64; i++) names.push(`cpu.core.${i}`);
  for (let g = 0; g < 8; g++) for (const m of ['util', 'mem', 'temp', 'power']) names.push(`gpu.${g}.${m}`);
  for (let d = 0; d < 6; d++) names.push(`disk./mnt/d${d}.used`);
  for (let n = 0; n < 8; n++) names.push(`net.eth${n}.rx`, `net.eth${n}.tx`);
  for (let c = 0; names.length < SERIES; c++) names.push(`container.job-${c}.cpu`, `container.job-${c}.mem`);
  return names.slice(0, SERIES);
}

/** Bytes of the pages of tables (and their indexes) whose names start with `prefix`, after a checkpoint. */
function tableBytes(db: SqliteDb, prefix: string): number {
  db.pragma('wal_checkpoint(TRUNCATE)');
  const row = db.prepare('SELECT sum(pgsize) AS b FROM dbstat WHERE name LIKE ? OR name LIKE ?').get(`${prefix}%`, `sqlite_autoindex_${prefix}%`) as { b: number | null };
  return row.b ?? 0;
}

interface Timing {
  n: number;
  meanMs: number;
  p50Ms: number;
  p99Ms: number;
  maxMs: number;
}

function timing(samples: number[]): Timing {
  const s = Float64Array.from(samples).sort();
  return { n: s.length, meanMs: s.reduce((a, b) => a + b, 0) / s.length, p50Ms: percentile(s, 50), p99Ms: percentile(s, 99), maxMs: s[s.length - 1]! };
}

const kb = (bytes: number) => `${fmt(bytes / 1000, 1)} kB`;

function time(fn: () => void): number {
  const t = process.hrtime.bigint();
  fn();
  return Number(process.hrtime.bigint() - t) / 1e6;
}

interface Layout {
  bytesPerSeriesDay: number;
  walPagesPerMinute: number;
}

/**
 * The layouts not taken, filled minute by minute in the same order as the store does: one row per series and minute
 * with REAL columns, and the store's chunks keyed by series first. WAL pages counted over the last hour.
 */
function baseline(kind: 'rows' | 'series-first chunks', days: number): Layout {
  const dir = tempDir('arbiter-bench-history-layout-');
  const db = openDatabase({ dataDir: dir });
  try {
    const rows = kind === 'rows';
    db.exec(rows
      ? `CREATE TABLE history_alt (series_id INTEGER NOT NULL, start INTEGER NOT NULL, n INTEGER NOT NULL,
          mean REAL NOT NULL, min REAL NOT NULL, max REAL NOT NULL, PRIMARY KEY (series_id, start)) WITHOUT ROWID`
      : `CREATE TABLE history_alt (series_id INTEGER NOT NULL, start INTEGER NOT NULL, bucket_s INTEGER NOT NULL,
          data BLOB NOT NULL, PRIMARY KEY (series_id, start, bucket_s)) WITHOUT ROWID`);
    const insert = db.prepare(rows
      ? 'INSERT INTO history_alt VALUES (?, ?, ?, ?, ?, ?)'
      : 'INSERT INTO history_alt VALUES (?, ?, 60, ?) ON CONFLICT DO UPDATE SET data = excluded.data');
    const chunks = Array.from({ length: SERIES }, () => Buffer.alloc(60 * 14));
    const value = () => Math.fround(Math.random() * 100);
    const minute = db.transaction((m: number) => {
      for (let s = 0; s < SERIES; s++) {
        if (rows) {
          insert.run(s + 1, T0 / 1000 + m * 60, 60, value(), value(), value());
          continue;
        }
        const c = chunks[s]!;
        if (m % 60 === 0) c.fill(0);
        const o = (m % 60) * 14;
        c.writeUInt16LE(60, o);
        c.writeFloatLE(value(), o + 2);
        c.writeFloatLE(value(), o + 6);
        c.writeFloatLE(value(), o + 10);
        insert.run(s + 1, T0 / 1000 + Math.floor(m / 60) * 3600, c);
      }
    });
    const total = days * 1440;
    for (let m = 0; m < total; m++) {
      if (m === total - 60) {
        db.pragma('wal_checkpoint(TRUNCATE)');
        db.pragma('wal_autocheckpoint = 0');
      }
      minute.immediate(m);
    }
    const walPagesPerMinute = (db.pragma('wal_checkpoint(PASSIVE)') as { log: number }[])[0]!.log / 60;
    db.pragma('wal_autocheckpoint = 10000');
    return { bytesPerSeriesDay: tableBytes(db, 'history_alt') / SERIES / days, walPagesPerMinute };
  } finally {
    db.close();
    removeDir(dir);
  }
}

export async function run(opts: BenchOptions = { quick: false }): Promise<BenchResult> {
  const days = opts.quick ? 1 : 2;
  const dir = tempDir('arbiter-bench-history-');
  const db = openDatabase({ dataDir: dir });
  const clock = new SimClock();
  const history = new History(3600);
  const store = new HistoryStore(db, { clock, history, retentionMs: (days - 1 || 1) * DAY });
  const names = seriesNames();
  // a random walk per series, so that values are not the integers SQLite stores compactly
  const level = names.map((_, i) => 10 + (i % 80));
  const roll: number[] = [];
  try {
    for (let m = 0; m < days * 1440; m++) {
      for (let s = 0; s < 60; s++) {
        const t = T0 + (m * 60 + s) * 1000;
        for (let i = 0; i < names.length; i++) {
          level[i] = Math.min(100, Math.max(0, level[i]! + (Math.random() - 0.5) * 2));
          history.record(names[i]!, t, level[i]! + Math.random());
        }
      }
      clock.t = T0 + (m + 1) * 60_000 + store.graceMs;
      roll.push(time(() => store.rollUp()));
    }
    const perSeriesDay = tableBytes(db, 'history') / SERIES / days;
    const rows = baseline('rows', days);
    const seriesFirst = baseline('series-first chunks', days);
    // queries of one series over everything on disk (then memory's last hour)
    const q: number[] = [];
    const qStep: number[] = [];
    let points = 0;
    for (let i = 0; i < 20; i++) {
      q.push(time(() => void (points = store.query('cpu.total', T0, clock.t).t.length)));
      qStep.push(time(() => void store.query('cpu.total', T0, clock.t, 3_600_000)));
    }
    const pruneMs = time(() => store.prune());
    // WAL written per roll-up over one more hour (without checkpoints meanwhile): every series' current chunk row is
    // rewritten; a new chunk each hour
    db.pragma('wal_checkpoint(TRUNCATE)');
    db.pragma('wal_autocheckpoint = 0');
    for (let m = days * 1440; m < days * 1440 + 60; m++) {
      for (let s = 0; s < 60; s++) for (let i = 0; i < names.length; i++) history.record(names[i]!, T0 + (m * 60 + s) * 1000, level[i]!);
      clock.t = T0 + (m + 1) * 60_000 + store.graceMs;
      store.rollUp();
    }
    const walPages = (db.pragma('wal_checkpoint(PASSIVE)') as { log: number }[])[0]!.log / 60;
    db.pragma('wal_autocheckpoint = 10000');
    const rollT = timing(roll);
    const m = machine();
    const markdown = [
      '## history (on-disk tier: 1-minute buckets in SQLite)',
      '',
      `${m.cores} cores, ${m.cpu}, Node ${m.node}; ${SERIES} series at 1 s, ${days} simulated day(s) (${roll.length.toLocaleString('en')} roll-ups), ` +
      'database in the temp dir, synchronous NORMAL.',
      '',
      table(['what', 'figure'], [
        ['roll-up of one minute, 200 series, one transaction: mean / p50 / p99 / max', `${fmt(rollT.meanMs, 2)} / ${fmt(rollT.p50Ms, 2)} / ${fmt(rollT.p99Ms, 2)} / ${fmt(rollT.maxMs, 1)} ms`],
        ['roll-up share of the time at one a minute (wall clock, checkpoints included)', `${fmt((rollT.meanMs / 60_000) * 100, 4)} %`],
        ['disk per series-day / WAL per roll-up: chunks of 60 buckets keyed by time first (the store)', `${kb(perSeriesDay)} / ${fmt(walPages, 0)} pages`],
        ['… the same chunks keyed by series first (not taken)', `${kb(seriesFirst.bytesPerSeriesDay)} / ${fmt(seriesFirst.walPagesPerMinute, 0)} pages`],
        ['… one row per series and minute, REAL mean/min/max (not taken)', `${kb(rows.bytesPerSeriesDay)} / ${fmt(rows.walPagesPerMinute, 0)} pages`],
        ['→ 200 series × 30 days on disk', `${fmt((perSeriesDay * SERIES * 30) / 2 ** 20, 0)} MiB (a row per minute: ${fmt((rows.bytesPerSeriesDay * SERIES * 30) / 2 ** 20, 0)} MiB)`],
        [`prune() dropping ${days > 1 ? 'one day' : 'nothing (1 day kept)'} of chunks`, `${fmt(pruneMs, 1)} ms`],
        [`query() one series, all it keeps, raw (${points.toLocaleString('en')} points): p50`, `${fmt(percentile(Float64Array.from(q).sort(), 50), 2)} ms`],
        [`query() the same with stepMs = 1 h: p50`, `${fmt(percentile(Float64Array.from(qStep).sort(), 50), 2)} ms`],
      ]),
    ].join('\n');
    return { name: 'history', markdown, data: { days, series: SERIES, rollUp: rollT, walPages, bytesPerSeriesDay: perSeriesDay, rows, seriesFirst, pruneMs } };
  } finally {
    store.close();
    db.close();
    removeDir(dir);
  }
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const r = await run({ quick: process.argv.includes('--quick') });
  process.stdout.write(`${r.markdown}\n`);
}
