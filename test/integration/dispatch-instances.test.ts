/**
 * Task dispatch with real reference instances (`arbiter instance` processes on loopback ports) and a real server:
 * shortest_queue against round_robin on instances of different speeds, a re-route after /ti/remove and after an
 * instance is killed (-9) with a task it had accepted, and the scheduler killed with -9 while tasks wait (every
 * acknowledged task finishes after the restart).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { TaskQueryResponseSchema, type TaskQueryResponse } from '../../shared/dispatch.ts';
import { exited, freePort, startCliServer, until } from '../helpers/cli-server.ts';
import { startTestServer, type TestServer } from '../helpers/server.ts';

const BIN = new URL('../../bin/arbiter.js', import.meta.url).pathname;
const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});


function client(url: string, token: string) {
  const headers = { authorization: `Bearer ${token}`, 'content-type': 'application/json' };
  return {
    post: async (path: string, body: unknown) => {
      const r = await fetch(`${url}${path}`, { method: 'POST', headers, body: JSON.stringify(body) });
      return { status: r.status, body: (await r.json()) as Record<string, unknown> };
    },
    task: async (id: string): Promise<TaskQueryResponse> => {
      const r = await fetch(`${url}/task/query?task_id=${id}`, { headers });
      return TaskQueryResponseSchema.parse(await r.json());
    },
  };
}

interface InstanceProcess {
  port: number;
  child: ChildProcess;
}

/** `arbiter instance` in a process of its own; stopped (by its pid) after the test. */
async function instance(scheduler: string, token: string, model: string, execMsMean: number): Promise<InstanceProcess> {
  const child = spawn(process.execPath, [BIN, 'instance', '--port', '0', '--model', model, '--scheduler', scheduler,
    '--exec-ms-mean', String(execMsMean), '--exec-ms-sd', '0'], { stdio: ['ignore', 'pipe', 'inherit'], env: { ...process.env, ARBITER_TOKEN: token } });
  cleanups.push(() => { if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL'); });
  const port = await new Promise<number>((resolve, reject) => {
    let out = '';
    child.stdout!.setEncoding('utf8');
    child.stdout!.on('data', (c: string) => {
      out += c;
      const m = /listening on http:\/\/127\.0\.0\.1:(\d+) /.exec(out);
      if (m) resolve(Number(m[1]));
    });
    child.once('exit', (code) => reject(new Error(`arbiter instance exited (${code}): ${out}`)));
  });
  return { port, child };
}

async function server(configure: (c: TestServer['app']['config']) => void = () => {}): Promise<TestServer> {
  const s = await startTestServer({ configure: (c) => { c.dispatch.probeMs = 100; configure(c); } });
  cleanups.push(() => s.close());
  return s;
}

describe('task dispatch with reference instances', () => {
  it('shortest_queue waits less than round_robin when one instance is twelve times as fast (seeded, same arrivals)', async () => {
    const meanWait = async (policy: 'shortest_queue' | 'round_robin') => {
      const s = await server((c) => { c.dispatch.policy = policy; });
      const api = client(s.url, s.token);
      // the slow ones take a task each 120 ms: round robin hands each a third of the arrivals (one per ~15 ms, slower
      // on a loaded machine), more than 8 a second while the arrivals come faster than one per 40 ms, so their queues
      // grow whatever the machine's speed; 60 ms left them barely loaded and the two means within noise (11 vs 10 ms)
      for (const ms of [10, 120, 120]) {
        const i = await instance(s.url, s.token, 'llm', ms);
        expect((await api.post('/ti/register', { host: '127.0.0.1', port: i.port, model_name: 'llm' })).status).toBe(200);
      }
      const ids: string[] = [];
      for (let k = 0; k < 45; k++) {
        ids.push((await api.post('/queue/submit', { model_name: 'llm', task_input: { k }, metadata: { seed: k } })).body.task_id as string);
        await new Promise((r) => setTimeout(r, 15));
      }
      const done = await Promise.all(ids.map((id) => until(async () => {
        const t = await api.task(id);
        return t.task_status === 'completed' ? t : undefined;
      }, `task ${id}`)));
      // the time each task was not running: waiting at Arbiter and in its instance's queue
      return done.reduce((sum, t) => sum + (t.total_time! - t.execution_time!), 0) / done.length;
    };
    const sq = await meanWait('shortest_queue');
    const rr = await meanWait('round_robin');
    expect(sq).toBeLessThan(rr);
  }, 60_000);

  for (const how of ['removed with /ti/remove', 'killed (-9)'] as const) {
    it(`re-dispatches, once, a task accepted by an instance that is then ${how}; it completes on the other`, async () => {
      const s = await server((c) => { c.dispatch.downAfter = 1; c.dispatch.lostAfterMs = 300; });
      const api = client(s.url, s.token);
      const leaving = await instance(s.url, s.token, 'llm', 60_000); // the task would run for a minute there
      const other = await instance(s.url, s.token, 'llm', 5);
      const registered = await api.post('/ti/register', { host: '127.0.0.1', port: leaving.port, model_name: 'llm' });
      const id = (await api.post('/queue/submit', { model_name: 'llm', task_input: {}, metadata: {} })).body.task_id as string;
      expect((await api.task(id)).scheduled_ti).toBe(registered.body.ti_uuid);
      await until(async () => ((await api.task(id)).task_status === 'scheduled' ? true : undefined), 'accepted');
      await api.post('/ti/register', { host: '127.0.0.1', port: other.port, model_name: 'llm' });
      if (how === 'killed (-9)') leaving.child.kill('SIGKILL'); // gone without a word, the task with it
      else expect((await api.post('/ti/remove', { host: '127.0.0.1', port: leaving.port })).body).toMatchObject({ status: 'success', ti_uuid: registered.body.ti_uuid });
      const t = await until(async () => {
        const q = await api.task(id);
        return q.task_status === 'completed' ? q : undefined;
      }, 'completed elsewhere');
      expect(t).toMatchObject({ rerouted: true, attempts: 2 });
      expect(s.app.dispatcher.instances.get(t.scheduled_ti!)!.port).toBe(other.port);
    }, 60_000);
  }

  it('killed with -9 while tasks wait, loses no acknowledged task: after the restart every one completes', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'arbiter-kill-'));
    cleanups.push(() => rmSync(dataDir, { recursive: true, force: true }));
    const port = await freePort();
    const token = 'kill-test-token-0123456789';
    const url = `http://127.0.0.1:${port}`;
    const start = () => startCliServer({ port, dataDir, token, args: ['--dispatch-probe-ms', '200'], onCleanup: (fn) => cleanups.push(fn) });
    let arbiter = await start();
    const api = client(url, token);
    const inst = await instance(url, token, 'llm', 40);
    await api.post('/ti/register', { host: '127.0.0.1', port: inst.port, model_name: 'llm' });
    // a burst of submits; kill -9 in the middle of it: what was acknowledged must survive
    const acknowledged: string[] = [];
    const submits = Array.from({ length: 40 }, (_, k) => api.post('/queue/submit', { model_name: 'llm', task_input: { k }, metadata: { seed: k } })
      .then((r) => { if (r.status === 200) acknowledged.push(r.body.task_id as string); })
      .catch(() => {}));
    await until(async () => (acknowledged.length >= 15 ? true : undefined), '15 acknowledged');
    arbiter.kill('SIGKILL');
    await Promise.all(submits);
    await exited(arbiter);
    expect(acknowledged.length).toBeGreaterThanOrEqual(15);
    arbiter = await start();
    for (const id of acknowledged) {
      await until(async () => ((await api.task(id)).task_status === 'completed' ? true : undefined), `acknowledged task ${id}`, 30_000);
    }
  }, 90_000);
});
