/**
 * workers: the compiled server (`serve --config … --no-gpu --no-docker`) with the local backend.
 *   1. 20 workers asked for in one group (`POST /api/workers`, cpu 100 millicores each), each the node worker
 *      runtime (`arbiter worker`), then the python one (`python3 -m arbiter_worker`): the wall time until
 *      `GET /api/workers?name=&timeoutMs=` answers with all 20 running (their ports answering /health);
 *   2. `call_engine` round trips, one at a time, through Arbiter (`POST /api/workers/{id}/call`) against straight
 *      to the worker (`POST /call` on its port), in alternating rounds: p50/p99, calls/s, and the overhead Arbiter
 *      adds — target ≤ 1 ms at p50 on loopback.
 * `node --import tsx --import ./bench/compiled.ts bench/workers.ts [--quick]` or `npm run bench -- --only workers`.
 */
import { writeFileSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { postJson } from '../server/runtime/json-http.ts';
import type { Worker, WorkerGroupResponse, WorkersResponse } from '../shared/workers.ts';
import { NO_RATE_LIMIT, fmt, percentile, REPO, spawnServer, table, tempDir, type BenchOptions, type BenchResult } from './lib.ts';

const OVERHEAD_TARGET_MS = 1;
const REPLICAS = 20;

interface StartFigure {
  runtime: string;
  wallMs: number;
}

async function startGroup(url: string, token: string, name: string, cmd: string[], env: Record<string, string>): Promise<{ wallMs: number; workers: Worker[] }> {
  const t0 = performance.now();
  const created = await postJson(`${url}/api/workers`, { name, replicas: REPLICAS, specs: [{ cpu: 100, gpu: 0, mem: 64, cmd, env_vars: env }] }, { token, timeoutMs: 60_000 });
  if (created.status !== 202) throw new Error(`POST /api/workers: ${created.status} ${JSON.stringify(created.body)}`);
  const res = await fetch(`${url}/api/workers?name=${encodeURIComponent((created.body as WorkerGroupResponse).name)}&timeoutMs=120000`, { headers: { authorization: `Bearer ${token}` } });
  const body = (await res.json()) as WorkersResponse;
  if (res.status !== 200) throw new Error(`workers not ready: ${JSON.stringify(body)}`);
  return { wallMs: performance.now() - t0, workers: body.workers };
}

async function timeCalls(call: () => Promise<unknown>, n: number): Promise<number[]> {
  const out: number[] = [];
  for (let k = 0; k < n; k++) {
    const t0 = performance.now();
    await call();
    out.push(performance.now() - t0);
  }
  return out;
}

export async function run(opts: BenchOptions = { quick: false }): Promise<BenchResult> {
  const dataDir = tempDir('arbiter-bench-workers-');
  const configPath = join(dataDir, 'config.json');
  writeFileSync(configPath, JSON.stringify({ resources: { cpu: 64_000, memoryMiB: 65_536, gpus: [] } }));
  const server = await spawnServer(['--config', configPath, ...NO_RATE_LIMIT, '--no-gpu', '--no-docker', '--no-web-build'], 120_000, [], { dataDir });
  const token = server.token;
  const starts: StartFigure[] = [];
  const calls = { arbiter: [] as number[], direct: [] as number[] };
  try {
    const py = { PYTHONPATH: `${join(REPO, 'clients/python')}:${join(REPO, 'examples/workers')}` };
    for (const [runtime, cmd, env] of [
      ['node (arbiter worker)', [process.execPath, join(REPO, 'bin/arbiter.js'), 'worker'], {}],
      ['python (python3 -m arbiter_worker)', ['python3', '-m', 'arbiter_worker'], py],
    ] as const) {
      const name = runtime.startsWith('node') ? 'bench-node' : 'bench-python';
      const { wallMs, workers } = await startGroup(server.url, token, name, [...cmd], env);
      starts.push({ runtime, wallMs });
      if (runtime.startsWith('node')) {
        // engine call round trips on the first node worker
        const w = workers[0]!;
        const engine = await postJson(`${server.url}/api/workers/${encodeURIComponent(w.id)}/engine`, { engine: 'examples/workers/echo_engine.mjs#EchoEngine' }, { token, timeoutMs: 30_000 });
        if (engine.status !== 200) throw new Error(`engine: ${engine.status} ${JSON.stringify(engine.body)}`);
        const body = { method: 'add', args: [2, 3], kwargs: {} };
        const through = () => postJson(`${server.url}/api/workers/${encodeURIComponent(w.id)}/call`, body, { token, timeoutMs: 10_000 });
        const direct = () => postJson(`http://${w.host}:${w.port}/call`, body, { timeoutMs: 10_000 });
        const n = opts.quick ? 300 : 2000;
        await timeCalls(through, 200);
        await timeCalls(direct, 200);
        for (let round = 0; round < 10; round++) {
          calls.arbiter.push(...(await timeCalls(through, n / 10)));
          calls.direct.push(...(await timeCalls(direct, n / 10)));
        }
      }
      const del = await fetch(`${server.url}/api/workers/${encodeURIComponent(name)}`, { method: 'DELETE', headers: { authorization: `Bearer ${token}` } });
      if (del.status !== 200) throw new Error(`DELETE: ${del.status}`);
    }
  } finally {
    await server.stop();
  }
  for (const v of Object.values(calls)) v.sort((a, b) => a - b);
  const p = (v: number[], q: number) => percentile(v, q);
  const perSec = (v: number[]) => v.length / (v.reduce((a, b) => a + b, 0) / 1000);
  const overhead50 = p(calls.arbiter, 50) - p(calls.direct, 50);
  const ok = (v: boolean) => (v ? '✓' : '✗');
  const markdown = [
    '## workers',
    '',
    `Machine: ${os.cpus().length} cores (${os.cpus()[0]?.model ?? 'unknown'}), Node ${process.version}. The compiled server, local backend, SQLite store.`,
    '',
    `${REPLICAS} workers asked for in one group → all running (each answering GET /health on its port), wall time:`,
    '',
    table(['runtime', 'wall time', 'per worker'], starts.map((s) => [s.runtime, `${fmt(s.wallMs / 1000, 2)} s`, `${fmt(s.wallMs / REPLICAS, 0)} ms`])),
    '',
    `call_engine round trips (\`add(2, 3)\` on the node runtime), one at a time, ${calls.arbiter.length.toLocaleString('en')} each, alternating rounds:`,
    '',
    table(['path', 'p50', 'p90', 'p99', 'calls/s'], [
      ['through Arbiter (POST /api/workers/{id}/call)', ...[50, 90, 99].map((q) => `${fmt(p(calls.arbiter, q), 2)} ms`), fmt(perSec(calls.arbiter), 0)],
      ['straight to the worker (POST /call)', ...[50, 90, 99].map((q) => `${fmt(p(calls.direct, q), 2)} ms`), fmt(perSec(calls.direct), 0)],
    ]),
    '',
    `Overhead Arbiter adds at p50: **${fmt(overhead50, 2)} ms** (×${fmt(p(calls.arbiter, 50) / p(calls.direct, 50), 2)} the direct call) — target ≤ ${OVERHEAD_TARGET_MS} ms ${ok(overhead50 <= OVERHEAD_TARGET_MS)}; at p99 ${fmt(p(calls.arbiter, 99) - p(calls.direct, 99), 2)} ms.`,
    '',
  ].join('\n');
  return { name: 'workers', markdown, data: { starts, calls: { arbiter: { p50: p(calls.arbiter, 50), p99: p(calls.arbiter, 99) }, direct: { p50: p(calls.direct, 50), p99: p(calls.direct, 99) } } } };
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const r = await run({ quick: process.argv.includes('--quick') });
  process.stdout.write(`${r.markdown}\n`);
}
