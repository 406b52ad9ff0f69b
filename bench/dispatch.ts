/**
 * dispatch: task dispatch for model-serving instances (issue 12).
 *   1. routing decisions per second inside the scheduler: 10,000 tasks over 8 instances (Dispatcher.submit, in this
 *      process, on the compiled modules) — target ≥ 20,000/s;
 *   2. mean wait per policy and the predictor's mean absolute error, on a virtual clock (server/sim/dispatch-sim.ts):
 *      8 instances of speeds 1, 1, 1, 1, 2, 2, 4, 4 (16 speed units), 10,000 seeded Poisson arrivals at 16/s (~72 %
 *      load), two kinds of task (60 % small: 200 ± 50 ms, 40 % large: 1.5 ± 0.3 s at speed 1, told apart by
 *      `metadata.size`); the predictor learning per bucket against a mean-only baseline (one mean per model);
 *   3. submit → completion overhead on loopback: a real server (the compiled CLI) and an instance that completes each
 *      task the moment it accepts it (its own time ≈ 0), tasks one at a time; the time from sending POST /queue/submit
 *      to the task_completed event over SSE, minus the instance's own time — target p99 ≤ 2 ms.
 * `node --import tsx --import ./bench/compiled.ts bench/dispatch.ts [--quick]` or `npm run bench -- --only dispatch`.
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import { fileURLToPath } from 'node:url';
import { EventSource } from 'eventsource';
import { ManualClock } from '../server/clock.ts';
import { simulateDispatch } from '../server/sim/dispatch-sim.ts';
import { Dispatcher } from '../server/workloads/dispatch/dispatcher.ts';
import { DISPATCH_POLICIES } from '../shared/names.ts';
import { fmt, percentile, spawnServer, table, type BenchOptions, type BenchResult } from './lib.ts';

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

/** An instance that takes every task and reports it done at once (execution_time 0). */
async function instantInstance(schedulerUrl: string, token: string) {
  const server = createServer((req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => (body += c.toString()));
    req.on('end', () => {
      if (req.url === '/health') {
        res.writeHead(200, { 'content-type': 'application/json' }).end('{"status":"ok"}');
        return;
      }
      const task = JSON.parse(body) as { task_id: string };
      res.writeHead(202, { 'content-type': 'application/json' }).end('{"status":"accepted"}');
      void fetch(`${schedulerUrl}/notify/task_complete`, {
        method: 'POST', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
        body: JSON.stringify({ task_id: task.task_id, result: { ok: true }, execution_time: 0 }),
      });
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { port: (server.address() as AddressInfo).port, close: () => new Promise<void>((r) => { server.closeAllConnections(); server.close(() => r()); }) };
}

async function loopbackOverhead(tasks: number): Promise<{ p50: number; p99: number; max: number; n: number }> {
  const server = await spawnServer(['--no-gpu', '--no-docker', '--no-web-build']);
  const instance = await instantInstance(server.url, server.token);
  const headers = { authorization: `Bearer ${server.token}`, 'content-type': 'application/json' };
  // a completion can arrive over SSE before the submit's answer: keep its time until the id is known
  const done = new Map<string, (t: number) => void>();
  const early = new Map<string, number>();
  const es = new EventSource(`${server.url}/api/events?types=task_update&access_token=${server.token}`);
  es.addEventListener('task_update', (e) => {
    const env = JSON.parse((e as MessageEvent<string>).data) as { data: { kind: string; task: { id: string } } };
    if (env.data.kind !== 'task_completed') return;
    const now = performance.now();
    const waiter = done.get(env.data.task.id);
    if (waiter) waiter(now);
    else early.set(env.data.task.id, now);
  });
  try {
    await new Promise<void>((r) => es.addEventListener('open', () => r()));
    await fetch(`${server.url}/ti/register`, { method: 'POST', headers, body: JSON.stringify({ host: '127.0.0.1', port: instance.port, model_name: 'llm' }) });
    const times: number[] = [];
    for (let k = 0; k < tasks + 200; k++) {
      const t0 = performance.now();
      const res = await fetch(`${server.url}/queue/submit`, { method: 'POST', headers, body: JSON.stringify({ model_name: 'llm', task_input: { k }, metadata: {} }) });
      const id = ((await res.json()) as { task_id: string }).task_id;
      const t1 = early.get(id) ?? (await new Promise<number>((r) => done.set(id, r)));
      early.delete(id);
      done.delete(id);
      if (k >= 200) times.push(t1 - t0); // the first 200 warm up
    }
    times.sort((a, b) => a - b);
    return { p50: percentile(times, 50), p99: percentile(times, 99), max: times[times.length - 1]!, n: times.length };
  } finally {
    es.close();
    await instance.close();
    await server.stop();
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
  const overhead = await loopbackOverhead(opts.quick ? 300 : 2000);
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
    `Submit → completion on loopback, tasks one at a time, the instance completing each at once (compiled server, SSE client): p50 **${fmt(overhead.p50, 2)} ms**, p99 **${fmt(overhead.p99, 2)} ms**, max ${fmt(overhead.max, 2)} ms over ${overhead.n} tasks — target p99 ≤ ${OVERHEAD_TARGET_MS} ms ${ok(overhead.p99 <= OVERHEAD_TARGET_MS)}. (Includes the client's own HTTP round trip and the instance's HTTP handling, both on this machine.)`,
    '',
  ].join('\n');
  return { name: 'dispatch', markdown, data: { routing, rows, overhead } };
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const r = await run({ quick: process.argv.includes('--quick') });
  process.stdout.write(`${r.markdown}\n`);
}
