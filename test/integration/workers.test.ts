/**
 * Workers end to end on real processes: a real server with the local backend, worker processes of both runtimes
 * (`arbiter worker`, `python3 -m arbiter_worker`), driven through the TypeScript client (ArbiterScheduler). Replicas
 * on exactly their GPUs, engines created and called on each, a replica that does not fit waits and says behind whom,
 * a killed worker fails with its status and its GPU goes to the one waiting, time-slicing pauses (state T) and
 * resumes a worker, delete leaves nothing running; and Arbiter killed with -9 adopts its workers after the restart
 * (same ids, one start each, engines still answering).
 */
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { ArbiterClientError, ArbiterScheduler, RemoteEngineError } from '../../clients/typescript/arbiter-scheduler.ts';
import type { Worker } from '../../shared/workers.ts';
import { exited, freePort, procState, runToEnd, startCliServer, until } from '../helpers/cli-server.ts';
import { startTestServer, type TestServer } from '../helpers/server.ts';

const REPO = new URL('../..', import.meta.url).pathname;
const BIN = join(REPO, 'bin/arbiter.js');
const NODE_WORKER = [process.execPath, BIN, 'worker'];
const PY_WORKER = { cmd: ['python3', '-m', 'arbiter_worker'], env_vars: { PYTHONPATH: `${join(REPO, 'clients/python')}:${join(REPO, 'examples/workers')}` } };
const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});



async function server(gpus: number, configure: (c: TestServer['app']['config']) => void = () => {}): Promise<TestServer> {
  const s = await startTestServer({
    configure: (c) => {
      c.resources = { cpu: 16_000, memoryMiB: 32_768, gpus: Array.from({ length: gpus }, (_, index) => ({ index, memoryMiB: 16_384 })) };
      c.workers.graceMs = 3000;
      configure(c);
    },
  });
  cleanups.push(async () => {
    // nothing may outlive the test: stop every group, then the server
    for (const name of s.app.workers.liveGroups()) await s.app.workers.delete(name).catch(() => {});
    await s.close();
  });
  return s;
}

const client = (s: { url: string; token: string }, trial: string) => new ArbiterScheduler({ type: 'arbiter', endpoint: s.url, expr_name: 'exp', trial_name: trial, token: s.token });
const pidOf = (s: TestServer, id: string): number => {
  const ref = s.app.workers.book.get(id)?.ref;
  if (ref?.kind !== 'local') throw new Error(`${id} has no local process`);
  return ref.pid;
};

describe('workers on real processes', () => {
  it('runs replicas of both runtimes on their GPUs, calls their engines, queues what does not fit, fails a killed one and hands its GPU on', async () => {
    const s = await server(2);
    const a = client(s, 'node');
    const b = client(s, 'python');
    const made = await a.create_workers({ replicas: 2, specs: [{ cpu: 1000, gpu: 1, mem: 512, cmd: NODE_WORKER }] });
    expect(made.map((w) => [w.id, w.name, w.owner])).toEqual([['exp/node-0', 'exp/node', 'exp'], ['exp/node-1', 'exp/node', 'exp']]);
    const waiting = await b.create_workers({ replicas: 1, specs: [{ cpu: 1000, gpu: 1, mem: 512, ...PY_WORKER }] });
    expect(waiting[0]!.state).toBe('queued');

    const running = await a.get_workers(30);
    expect(running.map((w) => [w.state, w.gpus])).toEqual([['running', [0]], ['running', [1]]]);
    for (const w of running) {
      await a.create_engine(w.id, 'examples/workers/echo_engine.mjs#EchoEngine', { tag: w.id });
      expect(await a.call_engine(w.id, 'add', 2, 3)).toBe(5);
      expect(await a.call_engine(w.id, 'info')).toMatchObject({ worker_id: w.id, cuda_visible_devices: String(w.gpus[0]), config: { tag: w.id } });
      expect(await a.call_engine_kw(w.id, 'greet', ['ana'], { greeting: 'hi' })).toMatch(/^hi,? ana/);
    }
    const remote = await a.call_engine(running[0]!.id, 'fail', 'on purpose').catch((e: unknown) => e);
    expect(remote).toBeInstanceOf(RemoteEngineError);
    expect(remote).toMatchObject({ status: 502, remoteType: 'EchoError', message: expect.stringContaining('on purpose') });
    expect((remote as RemoteEngineError).remoteStack).toContain('fail');

    // the python replica waits behind the node ones, and says so
    const notReady = await b.get_workers(0.3).catch((e: unknown) => e);
    expect(notReady).toBeInstanceOf(ArbiterClientError);
    expect(notReady).toMatchObject({ status: 408, code: 'not_ready' });
    expect((notReady as ArbiterClientError).details).toEqual([{ id: 'exp/python-0', state: 'queued', why: expect.stringMatching(/^queued behind exp \(request [^)]*GPU [01]\)/) }]);

    // a node worker killed: failed with its status, its GPU released and given to the python replica
    const victim = running[1]!;
    const pid = pidOf(s, victim.id);
    process.kill(pid, 'SIGKILL');
    const failed = await until(() => s.app.workers.list('exp/node').find((w) => w.id === victim.id && w.state === 'failed'), 'failed');
    expect(failed.why).toMatch(/SIGKILL|code 137/);
    expect(s.app.engine.allocation(victim.allocation_id!)!.state).toBe('released');
    const [py] = await b.get_workers(30);
    expect(py).toMatchObject({ state: 'running', gpus: [1] });
    await b.create_engine(py!.id, 'echo_engine:EchoEngine', { tag: 'py' });
    expect(await b.call_engine(py!.id, 'add', 40, 2)).toBe(42);
    expect(await b.call_engine(py!.id, 'info')).toMatchObject({ worker_id: 'exp/python-0', cuda_visible_devices: '1' });
    const pyErr = await b.call_engine(py!.id, 'fail').catch((e: unknown) => e);
    expect(pyErr).toMatchObject({ remoteType: 'EchoError' });
    expect((await (await fetch(`${s.url}/api/workers/${encodeURIComponent(py!.id)}/logs?tail=50`, { headers: { authorization: `Bearer ${s.token}` } })).json() as { lines: string[] }).lines.join('\n')).toMatch(/listening on/);

    // delete: every process ends, every allocation is released
    const pids = [pidOf(s, running[0]!.id), pidOf(s, py!.id)];
    await a.delete_workers();
    await b.delete_workers();
    expect(s.app.workers.list().map((w) => w.state)).toEqual(['stopped', 'failed', 'stopped']);
    for (const p of pids) expect(procState(p)).toBeNull();
    expect(s.app.engine.listAllocations('active')).toEqual([]);
  }, 90_000);

  it('pauses a worker while time-slicing suspends its allocation (state T) and resumes it at its next turn', async () => {
    const s = await server(1, (c) => { c.scheduler.strategy = 'time_slicing'; });
    const put = await fetch(`${s.url}/api/strategy`, { method: 'PUT', headers: { authorization: `Bearer ${s.token}`, 'content-type': 'application/json' }, body: JSON.stringify({ name: 'time_slicing', config: { quantumMs: 3000, queueThresholds: [1000] } }) });
    expect(put.status).toBe(200);
    const a = client(s, 'first');
    const b = client(s, 'second');
    await a.create_workers({ replicas: 1, specs: [{ cpu: 500, gpu: 1, mem: 256, cmd: NODE_WORKER }] });
    const [first] = await a.get_workers(30);
    await b.create_workers({ replicas: 1, specs: [{ cpu: 500, gpu: 1, mem: 256, cmd: NODE_WORKER }] });
    // Tiresias' order: after 1 GPU·s the first drops to the second queue, the second (first queue) gets the GPU at
    // the next rotation; once the second has run 1 GPU·s too, both are in the second queue and the earlier one runs
    // again. The first is suspended and its process stopped; the second runs
    // (each state is waited for, not read once: on a loaded machine a turn may come a little late)
    const state = (group: string) => s.app.workers.list(group)[0]!.state;
    await until(() => (state('exp/first') === 'suspended' && procState(pidOf(s, first!.id)) === 'T' ? true : undefined), 'first suspended, its process stopped');
    const [second] = await b.get_workers(30);
    await until(() => (state('exp/second') === 'running' ? true : undefined), 'second running');
    // next turn: the first runs again (its process too), the second is paused
    await until(() => (state('exp/first') === 'running' && procState(pidOf(s, first!.id)) !== 'T' ? true : undefined), 'first resumed, its process running');
    await until(() => (state('exp/second') === 'suspended' && procState(pidOf(s, second!.id)) === 'T' ? true : undefined), 'second suspended, its process stopped');
    // a paused worker stops too
    const pid = pidOf(s, second!.id);
    await b.delete_workers();
    expect(procState(pid)).toBeNull();
  }, 90_000);

  it('killed with -9, Arbiter adopts its workers after the restart: same ids, one start each, engines still answer', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'arbiter-workers-kill-'));
    cleanups.push(() => rmSync(dataDir, { recursive: true, force: true }));
    const port = await freePort();
    const token = 'workers-kill-test-token-0123';
    const url = `http://127.0.0.1:${port}`;
    const configFile = join(dataDir, 'arbiter.yaml');
    writeFileSync(configFile, 'resources:\n  cpu: 8000\n  memoryMiB: 16384\n  gpus: []\n');
    const start = () => startCliServer({ port, dataDir, token, args: ['--config', configFile], onCleanup: (fn) => cleanups.push(fn) });
    let arbiter = await start();
    const c = client({ url, token }, 'kept');
    // whatever happens, no worker outlives the test
    cleanups.push(() => c.delete_workers().catch(() => {}));
    await c.create_workers({ replicas: 2, specs: [{ cpu: 500, gpu: 0, mem: 128, cmd: NODE_WORKER }] });
    const before = await c.get_workers(30);
    for (const w of before) await c.create_engine(w.id, 'examples/workers/echo_engine.mjs#EchoEngine', { tag: w.id });

    arbiter.kill('SIGKILL');
    await exited(arbiter);
    // the workers outlived it
    for (const w of before) expect((await fetch(`http://${w.host}:${w.port}/health`)).status).toBe(200);
    arbiter = await start();
    const after = await c.get_workers(30);
    expect(after.map((w) => [w.id, w.port, w.started_at, w.engine])).toEqual(before.map((w) => [w.id, w.port, w.started_at, 'examples/workers/echo_engine.mjs#EchoEngine']));
    for (const w of after) {
      expect(await c.call_engine(w.id, 'info')).toMatchObject({ worker_id: w.id, config: { tag: w.id } });
      // started once: one listening line in its output
      const logs = await (await fetch(`${url}/api/workers/${encodeURIComponent(w.id)}/logs?tail=1000`, { headers: { authorization: `Bearer ${token}` } })).json() as { lines: string[] };
      expect(logs.lines.filter((l) => l.includes('listening on'))).toHaveLength(1);
    }
    await c.delete_workers();
    const ended = (await (await fetch(`${url}/api/workers?name=exp/kept`, { headers: { authorization: `Bearer ${token}` } })).json() as { workers: Worker[] }).workers;
    expect(ended.map((w) => w.state)).toEqual(['stopped', 'stopped']);
    for (const w of before) await expect(fetch(`http://${w.host}:${w.port}/health`)).rejects.toThrow();
    expect(existsSync(dataDir)).toBe(true);
  }, 120_000);
});

describe('examples/workers/train.ts', () => {
  it('gpu_models: a replica waits for a GPU of its model while another is free; 400 without a GPU ask, 422 for a model no node has', async () => {
    const s = await server(2, (c) => {
      c.resources!.gpus = [{ index: 0, memoryMiB: 16_384, name: 'Tesla T4' }, { index: 1, memoryMiB: 81_920, name: 'NVIDIA A100-SXM4-80GB' }];
    });
    const a = client(s, 'a100');
    const spec = (models: string[], gpu = 1) => ({ cpu: 1000, gpu, mem: 512, gpu_models: models, cmd: NODE_WORKER });
    const noGpu = await a.create_workers({ replicas: 1, specs: [spec(['A100'], 0)] }).catch((e: unknown) => e);
    expect(noGpu).toMatchObject({ status: 400, details: [expect.objectContaining({ field: 'specs.0.gpu_models' })] });
    const nowhere = await a.create_workers({ replicas: 1, specs: [spec(['H100'])] }).catch((e: unknown) => e);
    expect(nowhere).toMatchObject({ status: 422, code: 'never_fits' });
    expect(s.app.workers.liveGroups()).toEqual([]);

    // two replicas on the one A100: the second waits although the T4 is free
    const made = await a.create_workers({ replicas: 2, specs: [spec(['a100'])] });
    expect(made.map((w) => w.state)).toEqual(['starting', 'queued']);
    const [first] = await until(async () => {
      const ws = s.app.workers.list('exp/a100');
      return ws[0]?.state === 'running' ? ws : undefined;
    }, 'the first replica runs');
    expect(first!.gpus).toEqual([1]);
    await a.create_engine(first!.id, 'examples/workers/echo_engine.mjs#EchoEngine', {});
    expect(await a.call_engine(first!.id, 'info')).toMatchObject({ cuda_visible_devices: '1' });
    expect(s.app.workers.list('exp/a100')[1]!.state).toBe('queued');
    expect(s.app.engine.request(s.app.workers.book.get('exp/a100-1')!.worker.request_id!)?.gpuModels).toEqual(['a100']);
  }, 60_000);

  it('runs against a real server: two node workers on their GPUs, engines called, deleted', async () => {
    const s = await server(2);
    const { code, out, err } = await runToEnd(process.execPath, ['--import', 'tsx', 'examples/workers/train.ts', '--endpoint', s.url, '--gpu', '1', '--timeout', '60'], {
      cwd: REPO, env: { ...process.env, ARBITER_TOKEN: s.token },
    });
    expect(err).toBe('');
    expect(code).toBe(0);
    expect(out).toMatch(/echo-demo\/trial-ts-0 running at 127\.0\.0\.1:\d+ on GPUs \[[01]\]/);
    expect(out).toContain('add(2, 3) = 5');
    expect(out).toMatch(/greet\('Ada', \{greeting: 'hi'\}\) = hi, Ada/);
    expect(out).toMatch(/the engine raised EchoError: failed on purpose/);
    expect(s.app.workers.list('echo-demo/trial-ts').map((w) => w.state)).toEqual(['stopped', 'stopped']);
  }, 90_000);
});
