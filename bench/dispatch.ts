/**
 * dispatch: task dispatch for model-serving instances (issue 12).
 *   1. routing decisions per second inside the scheduler: 10,000 tasks over 8 instances (Dispatcher.submit, in this
 *      process, on the compiled modules) — target ≥ 20,000/s;
 *   2. mean wait per policy and the predictor's mean absolute error, on a virtual clock (server/sim/dispatch-sim.ts):
 *      8 instances of speeds 1, 1, 1, 1, 2, 2, 4, 4 (16 speed units), 10,000 seeded Poisson arrivals at 16/s (~72 %
 *      load), two kinds of task (60 % small: 200 ± 50 ms, 40 % large: 1.5 ± 0.3 s at speed 1, told apart by
 *      `metadata.size`); the predictor learning per bucket against a mean-only baseline (one mean per model);
 *   3. submit → completion overhead on loopback: a real server (the compiled CLI) and, as the baseline, the same wire
 *      protocol on a bare node:http server (null-dispatcher.mjs); an instance that completes each task the moment it
 *      has it, tasks one at a time, from sending POST /queue/submit to the task_completed event over SSE — target:
 *      Arbiter adds ≤ 2 ms at p99.
 * `node --import tsx --import ./bench/compiled.ts bench/dispatch.ts [--quick]` or `npm run bench -- --only dispatch`.
 */
import { spawn } from 'node:child_process';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { EventSource } from 'eventsource';
import { ManualClock } from '../server/clock.ts';
import { postJson } from '../server/runtime/json-http.ts';
import { simulateDispatch } from '../server/sim/dispatch-sim.ts';
import { Dispatcher } from '../server/workloads/dispatch/dispatcher.ts';
import { DISPATCH_POLICIES } from '../shared/names.ts';
import { NO_RATE_LIMIT, fmt, percentile, spawnServer, stopChild, table, TOKEN, track, withTimeout, type BenchOptions, type BenchResult } from './lib.ts';

const DECISIONS_TARGET = 20_000;
const OVERHEAD_TARGET_MS = 2;

function routingRate(tasks: number): { perSec: number; median: number[] } {
  const runs: number[] = [];
  for (let rep = 0; rep < 5; rep++) {
    const clock = new ManualClock(0);
    let n = 0;
    const d = new Dispatcher({ clock, newId: () => `t${++n}` });
    d.onChange(() => {});
    for (let i = 0; i < 8; i++) d.register(`10.0.0.${i}`, 8100, 'llm');
    const t0 = performance.now();
    for (let k = 0; k < tasks; k++) d.submit('llm', { k }, { size: k % 3 ? 'small' : 'large' });
    runs.push(tasks / ((performance.now() - t0) / 1000));
  }
  runs.sort((a, b) => a - b);
  return { perSec: runs[Math.floor(runs.length / 2)]!, median: runs };
}

/** An instance that takes every task and reports it done at once (execution_time 0), as the reference instance
 * posts its notices (json-http); notes when each task came. */
async function instantInstance(schedulerUrl: string, token: string) {
  const received = new Map<string, number>();
  const server = createServer((req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => (body += c.toString()));
    req.on('end', () => {
      if (req.url === '/health') {
        res.writeHead(200, { 'content-type': 'application/json' }).end('{"status":"ok"}');
        return;
      }
      const task = JSON.parse(body) as { task_id: string };
      received.set(task.task_id, performance.now());
      res.writeHead(202, { 'content-type': 'application/json' }).end('{"status":"accepted"}');
      void postJson(`${schedulerUrl}/notify/task_complete`, { task_id: task.task_id, result: { ok: true }, execution_time: 0 }, { token, timeoutMs: 5000 });
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { port: (server.address() as AddressInfo).port, received, close: () => new Promise<void>((r) => { server.closeAllConnections(); server.close(() => r()); }) };
}

interface Dispatching {
  url: string;
  token: string;
  stop(): Promise<void>;
}

/** bench/null-dispatcher.mjs in a process of its own: the same wire protocol, nothing else. */
async function spawnNullDispatcher(): Promise<Dispatching> {
  const child = track(spawn(process.execPath, [fileURLToPath(new URL('./null-dispatcher.mjs', import.meta.url))], { env: { ...process.env, TOKEN }, stdio: ['ignore', 'pipe', 'inherit'] }));
  const url = await withTimeout(new Promise<string>((resolve, reject) => {
    createInterface({ input: child.stdout! }).on('line', (line) => {
      const m = /Dashboard:\s+(http:\/\/[^/\s]+)\//.exec(line);
      if (m) resolve(m[1]!);
    });
    child.once('exit', (code) => reject(new Error(`null dispatcher exited (${code})`)));
  }), 10_000, 'null dispatcher start');
  return { url, token: TOKEN, stop: () => stopChild(child) };
}

/** A dispatcher with its instance and an SSE client: `once()` submits one task and times it to its task_completed event. */
async function loopbackRig(target: Dispatching) {
  const instance = await instantInstance(target.url, target.token);
  const headers = { authorization: `Bearer ${target.token}`, 'content-type': 'application/json' };
  // a completion can arrive over SSE before the submit's answer: keep its time until the id is known
  const done = new Map<string, (t: number) => void>();
  const early = new Map<string, number>();
  const es = new EventSource(`${target.url}/api/events?types=task_update&access_token=${target.token}`);
  es.addEventListener('task_update', (e) => {
    const env = JSON.parse((e as MessageEvent<string>).data) as { data: { kind: string; task: { id: string } } };
    if (env.data.kind !== 'task_completed') return;
    const now = performance.now();
    const waiter = done.get(env.data.task.id);
    if (waiter) waiter(now);
    else early.set(env.data.task.id, now);
  });
  await new Promise<void>((r) => es.addEventListener('open', () => r()));
  await fetch(`${target.url}/ti/register`, { method: 'POST', headers, body: JSON.stringify({ host: '127.0.0.1', port: instance.port, model_name: 'llm' }) });
  let k = 0;
  return {
    /** total: submit sent → task_completed received; delivery: submit sent → the instance has it; back: the rest */
    async once(): Promise<{ total: number; delivery: number; back: number }> {
      const t0 = performance.now();
      const res = await fetch(`${target.url}/queue/submit`, { method: 'POST', headers, body: JSON.stringify({ model_name: 'llm', task_input: { k: k++ }, metadata: {} }) });
      const id = ((await res.json()) as { task_id: string }).task_id;
      const t1 = early.get(id) ?? (await new Promise<number>((r) => done.set(id, r)));
      early.delete(id);
      done.delete(id);
      const got = instance.received.get(id)!;
      instance.received.delete(id);
      return { total: t1 - t0, delivery: got - t0, back: t1 - got };
    },
    async close() {
      es.close();
      await instance.close();
    },
  };
}

interface LoopbackFigures {
  n: number;
  arbiter: { total: number[]; delivery: number[]; back: number[] };
  baseline: { total: number[]; delivery: number[]; back: number[] };
}

/**
 * Submit → completion, one task at a time, against Arbiter (the compiled CLI) and against the bare baseline
 * (bench/null-dispatcher.mjs), in alternating rounds so both see the same machine; the first 200 of each warm up.
 */
async function loopbackOverhead(tasks: number): Promise<LoopbackFigures> {
  const arbiter = await spawnServer([...NO_RATE_LIMIT, '--no-gpu', '--no-docker', '--no-web-build']);
  const bare = await spawnNullDispatcher();
  const rigs = { arbiter: await loopbackRig(arbiter), baseline: await loopbackRig(bare) };
  const times = { arbiter: { total: [] as number[], delivery: [] as number[], back: [] as number[] }, baseline: { total: [] as number[], delivery: [] as number[], back: [] as number[] } };
  try {
    for (const rig of Object.values(rigs)) for (let k = 0; k < 200; k++) await rig.once();
    const rounds = 10;
    for (let round = 0; round < rounds; round++) {
      for (const name of ['arbiter', 'baseline'] as const) {
        for (let k = 0; k < tasks / rounds; k++) {
          const t = await rigs[name].once();
          times[name].total.push(t.total);
          times[name].delivery.push(t.delivery);
          times[name].back.push(t.back);
        }
      }
    }
    for (const side of Object.values(times)) for (const v of Object.values(side)) v.sort((a, b) => a - b);
    return { n: tasks, ...times };
  } finally {
    for (const rig of Object.values(rigs)) await rig.close();
    await arbiter.stop();
    await bare.stop();
  }
}

export async function run(opts: BenchOptions = { quick: false }): Promise<BenchResult> {
  const tasks = opts.quick ? 2000 : 10_000;
  const routing = routingRate(tasks);
  const buckets = [{ name: 'small', meanMs: 200, sdMs: 50, share: 0.6 }, { name: 'large', meanMs: 1500, sdMs: 300, share: 0.4 }];
  const instances = [1, 1, 1, 1, 2, 2, 4, 4].map((speed) => ({ speed, weight: speed }));
  const policies = DISPATCH_POLICIES.filter((p) => p !== 'custom');
  const rows = policies.map((policy) => {
    const b = simulateDispatch({ policy, instances, tasks, ratePerSec: 16, buckets, predictor: 'bucketed', seed: 7 });
    const m = simulateDispatch({ policy, instances, tasks, ratePerSec: 16, buckets, predictor: 'mean_only', seed: 7 });
    return { policy, b, m };
  });
  const overhead = await loopbackOverhead(opts.quick ? 400 : 3000);
  const ok = (v: boolean) => (v ? '✓' : '✗');
  const markdown = [
    '## dispatch',
    '',
    `Machine: ${os.cpus().length} cores (${os.cpus()[0]?.model ?? 'unknown'}), Node ${process.version}.`,
    '',
    `Routing decisions inside the scheduler (Dispatcher.submit, ${tasks.toLocaleString('en')} tasks over 8 instances, median of 5): **${Math.round(routing.perSec).toLocaleString('en')} /s** (runs ${routing.median.map((x) => Math.round(x).toLocaleString('en')).join(', ')}) — target ≥ ${DECISIONS_TARGET.toLocaleString('en')} ${ok(routing.perSec >= DECISIONS_TARGET)}.`,
    '',
    `Waits per policy on a virtual clock (${tasks.toLocaleString('en')} tasks, 8 instances of speeds 1,1,1,1,2,2,4,4, arrivals 16/s ≈ 72 % load; small 200 ± 50 ms 60 %, large 1.5 ± 0.3 s 40 %), and the predictor's mean absolute error after the first 10 % (predicted wait at routing vs the real wait; predicted execution time vs the real one):`,
    '',
    table(['policy', 'mean wait', 'p95 wait', 'wait MAE, predictor per bucket', 'wait MAE, mean-only baseline', 'execution MAE, per bucket / mean-only', 'tasks per instance'], rows.map(({ policy, b, m }) => [
      policy, `${fmt(b.meanWaitMs, 0)} ms`, `${fmt(b.p95WaitMs, 0)} ms`, `${fmt(b.maeMs, 0)} ms`, `${fmt(m.maeMs, 0)} ms`, `${fmt(b.execMaeMs, 0)} / ${fmt(m.execMaeMs, 0)} ms`, b.perInstance.join(', '),
    ])),
    '',
    `Submit → completion on loopback, ${overhead.n.toLocaleString('en')} tasks one at a time, the instance completing each the moment it has it (its own time 0): from sending POST /queue/submit to receiving the task_completed event over SSE (*total*), split where the instance receives the task (*delivery*: submit → the instance's POST /task/submit; *back*: the instance's notice → the SSE event). *Baseline*: bench/null-dispatcher.mjs, the same wire protocol on a bare node:http server (no validation, routing, storage or event log), measured by the same client in alternating rounds. Arbiter's overhead is its figure minus the baseline's.`,
    '',
    table(['', 'p50', 'p90', 'p99', 'max'], (['total', 'delivery', 'back'] as const).flatMap((part) => (['arbiter', 'baseline'] as const).map((side) => {
      const v = overhead[side][part];
      return [`${part}, ${side === 'arbiter' ? 'Arbiter' : 'baseline'}`, ...[50, 90, 99].map((q) => `${fmt(percentile(v, q), 2)} ms`), `${fmt(v[v.length - 1]!, 2)} ms`];
    }))),
    '',
    `Overhead added by Arbiter per task (total, Arbiter − baseline): p50 **${fmt(percentile(overhead.arbiter.total, 50) - percentile(overhead.baseline.total, 50), 2)} ms**, p99 **${fmt(percentile(overhead.arbiter.total, 99) - percentile(overhead.baseline.total, 99), 2)} ms** — target p99 ≤ ${OVERHEAD_TARGET_MS} ms ${ok(percentile(overhead.arbiter.total, 99) - percentile(overhead.baseline.total, 99) <= OVERHEAD_TARGET_MS)}; end to end, Arbiter's p99 ${fmt(percentile(overhead.arbiter.total, 99), 2)} ms ${ok(percentile(overhead.arbiter.total, 99) <= OVERHEAD_TARGET_MS)}.`,
    '',
  ].join('\n');
  return { name: 'dispatch', markdown, data: { routing, rows, overhead } };
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const r = await run({ quick: process.argv.includes('--quick') });
  process.stdout.write(`${r.markdown}\n`);
}
