/**
 * store-engines: end-to-end `POST /api/requests` per second with the store on SQLite (the default) and on
 * PostgreSQL (`--database`), the same load as api-requests (bench/http-load.ts, 32 keep-alive connections, half the
 * requests granted and half queued behind two held GPUs), one engine after the other in the same run. PostgreSQL is
 * a throw-away cluster on loopback (test/helpers/postgres.ts: initdb in a temporary directory; fsync off, as in the
 * tests: what this measures is the round trips, not the disk). Server CPU from /proc (main thread / other threads:
 * the PostgreSQL connection's worker thread is one of the others); PostgreSQL's own CPU summed over its processes.
 */
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import pg from 'pg';
import { TestPostgres } from '../test/helpers/postgres.ts';
import { api, runLoad, type Phase } from './api-requests.ts';
import { NO_RATE_LIMIT, clockTicks, fmt, spawnServer, stopChild, table, tempDir, type BenchOptions, type BenchResult } from './lib.ts';

const GPUS = 2;

/** user + system ticks of a process and its children's processes (PostgreSQL: the postmaster and its backends). */
function treeTicks(root: number): number {
  let total = 0;
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      const pid = Number(entry);
      if (pid === root || Number(rest[1]) === root) total += Number(rest[11]) + Number(rest[12]);
    } catch {
      // gone
    }
  }
  return total;
}

interface EngineRun {
  engine: 'sqlite' | 'postgres';
  phase: Phase;
  postgresCpuPercent: number | null;
  rows: number;
}

async function one(engine: 'sqlite' | 'postgres', pgs: TestPostgres | null, warmupMs: number, windowMs: number): Promise<EngineRun> {
  const dataDir = tempDir('arbiter-bench-engines-');
  const configPath = join(dataDir, 'config.json');
  writeFileSync(configPath, JSON.stringify({
    resources: { cpu: 10_000_000, memoryMiB: 100_000_000, gpus: Array.from({ length: GPUS }, (_, index) => ({ index, memoryMiB: 81_920 })) },
  }));
  const url = pgs ? await pgs.schema() : undefined;
  const server = await spawnServer(['--config', configPath, ...NO_RATE_LIMIT, '--no-gpu', '--no-docker', '--no-web-build', ...(url ? ['--database', url] : [])], 120_000, [], { dataDir });
  let phase: Phase;
  let pgTicks = 0;
  try {
    for (let i = 0; i < GPUS; i++) {
      const held = await api(server, 'POST', '/api/requests', { owner: 'holder', resources: { gpus: 1 } });
      if (held.status !== 201) throw new Error(`holding GPU ${i}: ${held.status} ${server.stderr()}`);
    }
    const p0 = pgs ? treeTicks(pgs.pid) : 0;
    const t0 = performance.now();
    phase = await runLoad(server, 'requests', warmupMs, windowMs);
    // PostgreSQL's CPU over warm-up and window together (the window alone is not marked from here)
    pgTicks = pgs ? ((treeTicks(pgs.pid) - p0) / clockTicks()) / ((performance.now() - t0) / 1000) * 100 : 0;
  } finally {
    await stopChild(server.child);
  }
  let rows: number;
  if (url) {
    const c = new pg.Client({ connectionString: url });
    await c.connect();
    rows = Number((await c.query('SELECT count(*) AS n FROM requests')).rows[0].n);
    await c.end();
  } else {
    const { default: Database } = await import('better-sqlite3');
    const d = new Database(join(dataDir, 'arbiter.db'), { readonly: true });
    rows = (d.prepare('SELECT count(*) AS n FROM requests').get() as { n: number }).n;
    d.close();
  }
  await server.stop();
  return { engine, phase, postgresCpuPercent: pgs ? pgTicks : null, rows };
}

export async function run(opts: BenchOptions): Promise<BenchResult> {
  const warmupMs = opts.quick ? 1500 : 3000;
  const windowMs = opts.quick ? 4000 : 10_000;
  const sqlite = await one('sqlite', null, warmupMs, windowMs);
  const pgs = await TestPostgres.start();
  let postgres: EngineRun;
  try {
    postgres = await one('postgres', pgs, warmupMs, windowMs);
  } finally {
    await pgs.stop();
  }
  const row = (r: EngineRun) => {
    const l = r.phase.load;
    return [
      r.engine === 'sqlite' ? 'SQLite (baseline)' : '**PostgreSQL**', `**${Math.round(l.perSec).toLocaleString('en')}**`,
      fmt(l.latencyMs.p50, 1), fmt(l.latencyMs.p99, 1), fmt(l.latencyMs.max, 1),
      Object.entries(l.statuses).map(([s, n]) => `${s}: ${n.toLocaleString('en')}`).join(', ') || '–',
      `${fmt(r.phase.serverCpuPercent, 0)} (${fmt(r.phase.mainThreadPercent, 0)} / ${fmt(r.phase.otherThreadsPercent, 0)})`,
      r.postgresCpuPercent === null ? '–' : fmt(r.postgresCpuPercent, 0), fmt(r.phase.machineBusyPercent, 0), r.rows.toLocaleString('en'),
      l.errors.length ? l.errors.slice(0, 3).join('; ') : 'none',
    ];
  };
  const ratio = postgres.phase.load.perSec / sqlite.phase.load.perSec;
  const markdown = [
    '## store-engines',
    '',
    `POST /api/requests per second end to end (the CLI server, ${fmt(warmupMs / 1000, 0)} s warm-up, ${fmt(windowMs / 1000, 0)} s window, 32 keep-alive connections, half granted / half queued behind ${GPUS} held GPUs — the api-requests load), `
    + 'the store on SQLite in the data dir, then on PostgreSQL (a throw-away cluster on 127.0.0.1, fsync off) in the same run. '
    + `PostgreSQL / SQLite: **${fmt(ratio * 100, 0)} %**.`,
    '',
    table(['store', 'requests/s', 'p50 ms', 'p99 ms', 'max ms', 'status codes (window)', 'server CPU % (main / other)', 'PostgreSQL CPU %', 'machine busy %', 'request rows after', 'errors'], [row(sqlite), row(postgres)]),
    '',
  ].join('\n');
  return { name: 'store-engines', markdown, data: { sqlite, postgres, ratio } };
}
