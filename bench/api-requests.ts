/**
 * api-requests: end-to-end `POST /api/requests` throughput with persistence on (issue 5). The real CLI in a child
 * process (`serve --config <tmp>/config.json --no-gpu --no-docker --no-web-build`, SQLite in its temp data dir),
 * loaded by a separate client process (bench/http-load.ts: keep-alive connections, one request in flight each)
 * for a warm-up and then the measured window. The declared inventory has room for every small request (cpu 10
 * millicores, 1 MiB → 201 granted) and two GPUs, both held by the bench before the load starts, so every request
 * for a whole GPU waits (202 queued, with a conflict): half the requests are granted, half queued, and the queue
 * grows through the run (~10k+). Baseline in the same run, on the same server first: `GET /api/health` the same
 * way (the HTTP stack's own ceiling). Server CPU: /proc/<pid>/stat over the window (all threads).
 * After the run the database is opened read-only and its rows are counted against what the client sent.
 */
import { writeFileSync } from 'node:fs';
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import Database from 'better-sqlite3';
import {
  BENCH, NODE_TS, NO_RATE_LIMIT, REPO, clockTicks, fmt, machineBusyPercent, machineTicks, procTimes, spawnServer, stopChild, table, tempDir, threadTimes, track, withTimeout,
  type BenchOptions, type BenchResult, type ServerProcess,
} from './lib.ts';
import type { LoadConfig, LoadResult } from './http-load.ts';

export const TARGET_PER_SEC = 2000;
const CONNECTIONS = 32;
const GPUS = 2;

export interface Phase {
  load: LoadResult;
  serverCpuPercent: number;
  mainThreadPercent: number;
  otherThreadsPercent: number;
  machineBusyPercent: number;
}

export async function runLoad(server: ServerProcess, kind: LoadConfig['kind'], warmupMs: number, windowMs: number): Promise<Phase> {
  const cfg: LoadConfig = { url: server.url, token: server.token, kind, connections: CONNECTIONS, warmupMs, windowMs };
  const child = track(spawn(process.execPath, [...NODE_TS, join(BENCH, 'http-load.ts'), JSON.stringify(cfg)], { cwd: REPO, stdio: ['ignore', 'pipe', 'pipe'] }));
  let err = '';
  child.stderr!.setEncoding('utf8');
  child.stderr!.on('data', (s: string) => (err = (err + s).slice(-4000)));
  const tck = clockTicks();
  let s0 = procTimes(server.pid);
  let th0 = threadTimes(server.pid);
  let m0 = machineTicks();
  let t0 = performance.now();
  let phase: Omit<Phase, 'load'> | null = null;
  try {
    const load = await withTimeout(new Promise<LoadResult>((resolve, reject) => {
      const rl = createInterface({ input: child.stdout! });
      rl.on('line', (line) => {
        let msg: { event?: string } & Partial<LoadResult>;
        try {
          msg = JSON.parse(line) as typeof msg;
        } catch {
          return;
        }
        if (msg.event === 'window-start') {
          s0 = procTimes(server.pid);
          th0 = threadTimes(server.pid);
          m0 = machineTicks();
          t0 = performance.now();
        } else if (msg.event === 'window-end') {
          const secs = (performance.now() - t0) / 1000;
          const s1 = procTimes(server.pid);
          let main = 0;
          let other = 0;
          for (const [key, ticks] of threadTimes(server.pid)) {
            const d = ticks - (th0.get(key) ?? 0);
            if (Number(key.slice(0, key.indexOf(':'))) === server.pid) main += d;
            else other += d;
          }
          phase = {
            serverCpuPercent: ((s1.self - s0.self) / tck / secs) * 100,
            mainThreadPercent: (main / tck / secs) * 100,
            otherThreadsPercent: (other / tck / secs) * 100,
            machineBusyPercent: machineBusyPercent(m0, machineTicks()),
          };
        } else if (msg.event === 'result') resolve(msg as LoadResult);
      });
      child.once('exit', (code) => reject(new Error(`http-load (${kind}) exited with ${code} before its result: ${err}`)));
    }), warmupMs + windowMs + 60_000, `http-load ${kind}`);
    if (!phase) throw new Error('no window-end from http-load');
    return { load, ...(phase as Omit<Phase, 'load'>) };
  } finally {
    await stopChild(child, 2000);
  }
}

export async function api(server: ServerProcess, method: string, path: string, body?: unknown): Promise<{ status: number; json: Record<string, unknown> }> {
  const res = await fetch(`${server.url}${path}`, {
    method,
    headers: { authorization: `Bearer ${server.token}`, ...(body ? { 'content-type': 'application/json' } : {}) },
    ...(body ? { body: JSON.stringify(body) } : {}),
  });
  return { status: res.status, json: (await res.json()) as Record<string, unknown> };
}

export async function run(opts: BenchOptions): Promise<BenchResult> {
  const warmupMs = opts.quick ? 1500 : 3000;
  const windowMs = opts.quick ? 4000 : 10_000;
  const dataDir = tempDir('arbiter-bench-api-');
  const configPath = join(dataDir, 'config.json');
  const declared = {
    resources: {
      cpu: 10_000_000, memoryMiB: 100_000_000,
      gpus: Array.from({ length: GPUS }, (_, index) => ({ index, memoryMiB: 81_920, name: `bench-gpu-${index}` })),
    },
  };
  writeFileSync(configPath, JSON.stringify(declared));
  const server = await spawnServer(['--config', configPath, ...NO_RATE_LIMIT, '--no-gpu', '--no-docker', '--no-web-build'], 120_000, [], { dataDir });
  let health: Phase;
  let requests: Phase;
  let granted: Phase;
  let queueTotal: number;
  let holders: number[];
  let db: { requests: Record<string, number>; allocations: number; conflicts: Record<string, number>; events: number; decisions: number };
  try {
    // hold every declared GPU, so that each request for a whole GPU waits
    holders = [];
    for (let i = 0; i < GPUS; i++) holders.push((await api(server, 'POST', '/api/requests', { owner: 'holder', resources: { gpus: 1 } })).status);
    if (holders.some((s) => s !== 201)) throw new Error(`holding the GPUs: statuses ${holders.join(', ')} (expected 201): ${server.stderr()}`);
    health = await runLoad(server, 'health', warmupMs, windowMs);
    requests = await runLoad(server, 'requests', warmupMs, windowMs);
    // diagnostic: the same POST path when every request fits (no conflict evaluation), on the same server afterwards
    granted = await runLoad(server, 'granted', warmupMs, windowMs);
    queueTotal = Number((await api(server, 'GET', '/api/queue?limit=1')).json.total);
  } finally {
    await stopChild(server.child);
  }
  try {
    const d = new Database(join(dataDir, 'arbiter.db'), { readonly: true });
    const group = (sql: string) => Object.fromEntries((d.prepare(sql).all() as { k: string; n: number }[]).map((r) => [r.k, r.n]));
    const count = (table: string) => (d.prepare(`SELECT count(*) AS n FROM ${table}`).get() as { n: number }).n;
    db = {
      requests: group('SELECT status AS k, count(*) AS n FROM requests GROUP BY status'),
      allocations: count('allocations'),
      conflicts: group('SELECT status AS k, count(*) AS n FROM conflicts GROUP BY status'),
      events: count('events'),
      decisions: count('decisions'),
    };
    d.close();
  } finally {
    await server.stop();
  }

  const sentRequests = requests.load.sentTotal + granted.load.sentTotal + GPUS;
  const dbRequests = Object.values(db.requests).reduce((a, b) => a + b, 0);
  const row = (label: string, p: Phase) => {
    const l = p.load;
    return [
      label, `**${Math.round(l.perSec).toLocaleString('en')}**`, fmt(l.latencyMs.p50, 1), fmt(l.latencyMs.p90, 1), fmt(l.latencyMs.p99, 1), fmt(l.latencyMs.max, 1),
      Object.entries(l.statuses).map(([s, n]) => `${s}: ${n.toLocaleString('en')}`).join(', ') || '–',
      `${fmt(p.serverCpuPercent, 0)} (${fmt(p.mainThreadPercent, 0)} / ${fmt(p.otherThreadsPercent, 0)})`, fmt(l.clientCpuPercent, 0), fmt(p.machineBusyPercent, 0),
      l.errors.length ? l.errors.slice(0, 3).join('; ') : 'none',
    ];
  };
  const verdict = requests.load.perSec >= TARGET_PER_SEC ? 'meets' : 'misses';
  const markdown = [
    '## api-requests',
    '',
    `End to end: the real CLI (\`serve --config <tmp>/config.json --no-gpu --no-docker --no-web-build\`, host sampling at the default 1 s, SQLite store in the temp data dir: persistence on), `
    + `loaded from a separate client process (bench/http-load.ts: ${CONNECTIONS} keep-alive HTTP/1.1 connections on raw sockets, one request in flight each) `
    + `for ${fmt(warmupMs / 1000, 0)} s of warm-up, then a ${fmt(windowMs / 1000, 0)} s window. Declared inventory: cpu 10,000,000 millicores, 100,000,000 MiB, ${GPUS} GPUs, both GPUs held by two grants before the load; `
    + `requests alternate between {cpu 10, memoryMiB 1} (fits: 201) and {gpus 1} (waits: 202 with a conflict), each with an owner, priority and a label. `
    + `Baseline: \`GET /api/health\` on the same server just before, the same way; diagnostic: the POST load again afterwards with every request fitting. Connections are opened during the warm-up; figures count requests sent and answered inside the window. Server CPU over the window in % of one core (main thread / other threads), from /proc/<pid>/stat.`,
    '',
    `Target ≥ ${TARGET_PER_SEC.toLocaleString('en')} POST /api/requests per second: **${verdict}** (${Math.round(requests.load.perSec).toLocaleString('en')}/s, ${fmt(requests.load.perSec / health.load.perSec * 100, 0)} % of the health baseline).`,
    '',
    table(['load', 'requests/s', 'p50 ms', 'p90 ms', 'p99 ms', 'max ms', 'status codes (window)', 'server CPU % (main / other)', 'client CPU %', 'machine busy %', 'errors'], [
      row('GET /api/health (baseline)', health),
      row('**POST /api/requests (half granted, half queued)**', requests),
      row('diagnostic, afterwards: POST /api/requests, every one granted', granted),
    ]),
    '',
    `Completions per second through the window: health ${health.load.perSecond.join(' / ')}; mixed ${requests.load.perSecond.join(' / ')}; all granted ${granted.load.perSecond.join(' / ')}.`,
    '',
    `Persistence check (database opened read-only after the server stopped): requests ${Object.entries(db.requests).map(([k, n]) => `${k} ${n.toLocaleString('en')}`).join(', ')} `
    + `= ${dbRequests.toLocaleString('en')} rows for ${sentRequests.toLocaleString('en')} POSTs sent (warm-ups and windows of both POST loads, and the 2 GPU holders); allocations ${db.allocations.toLocaleString('en')}; `
    + `conflicts ${Object.entries(db.conflicts).map(([k, n]) => `${k} ${n.toLocaleString('en')}`).join(', ')}; archived events ${db.events.toLocaleString('en')}; decision rows ${db.decisions.toLocaleString('en')}. `
    + `Queue length at the end (GET /api/queue): ${queueTotal.toLocaleString('en')}.`,
    '',
  ].join('\n');
  return { name: 'api-requests', markdown, data: { health, requests, granted, db, queueTotal, sentRequests } };
}
