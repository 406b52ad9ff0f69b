/**
 * The reference instance over real HTTP on 127.0.0.1 (port 0), against a stand-in scheduler that records the
 * calls: the instance contract of README "Task instances" — /task/submit, /health, completion notices with the
 * token and their retries, registration and removal.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { startInstance, type InstanceDeps, type RunningInstance } from '../../server/instance/instance.ts';
import type { InstanceOptions } from '../../server/instance/options.ts';
import { DispatchErrorSchema, InstanceHealthSchema, TaskCompleteBodySchema, type InstanceTask } from '../../shared/dispatch.ts';
import { FakeScheduler, type RecordedCall } from '../helpers/fake-scheduler.ts';

const TOKEN = 'instance-test-token-0123456789';
const cleanup: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanup.splice(0).reverse()) await c();
});

async function scheduler(opts: { port?: number } = {}): Promise<FakeScheduler> {
  const s = await FakeScheduler.start({ token: TOKEN, ...opts });
  cleanup.push(() => s.close());
  return s;
}

async function instance(s: { url: string }, extra: Partial<InstanceOptions & InstanceDeps> = {}): Promise<RunningInstance> {
  const i = await startInstance({ port: 0, model: 'llm', scheduler: s.url, token: TOKEN, backoff: { initialMs: 5, maxMs: 20 }, ...extra });
  cleanup.push(() => i.close({ deregister: false }));
  return i;
}

const task = (id: string, metadata: Record<string, unknown> = { exec_ms: 0 }): InstanceTask => ({ task_id: id, model_name: 'llm', task_input: { prompt: `p-${id}` }, metadata });

async function post(url: string, body: unknown): Promise<{ status: number; body: Record<string, unknown> }> {
  const res = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: typeof body === 'string' ? body : JSON.stringify(body) });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

const notices = (calls: readonly RecordedCall[], id?: string) =>
  calls.filter((c) => c.path === '/notify/task_complete' && c.status === 200 && (id === undefined || (c.body as { task_id: string }).task_id === id));

describe('reference instance over HTTP', () => {
  it('takes a task, runs it and notifies the scheduler with the token, the result and the execution time', async () => {
    const s = await scheduler();
    const i = await instance(s, { instanceId: 'inst-1' });
    const accepted = await post(`${i.url}/task/submit`, task('t1', { exec_ms: 5, seed: 1 }));
    expect(accepted).toEqual({ status: 200, body: { status: 'success', message: 'accepted', task_id: 't1', queue_size: 1 } });
    await s.until((c) => notices(c, 't1').length === 1, 'the notice of t1');
    const call = notices(s.calls, 't1')[0]!;
    expect(call.authorization).toBe(`Bearer ${TOKEN}`);
    const body = TaskCompleteBodySchema.parse(call.body);
    expect(body).toMatchObject({ task_id: 't1', instance_id: 'inst-1', result: { instance_id: 'inst-1', model: 'llm', output: { prompt: 'p-t1' }, exec_ms: 5 } });
    expect(body.execution_time).toBeGreaterThanOrEqual(0.004);
    expect(body.execution_time).toBeLessThan(1);
  });

  it('answers /health with its id, model, replicas and the tasks it holds', async () => {
    const s = await scheduler();
    const i = await instance(s, { instanceId: 'inst-2', concurrency: 2 });
    await post(`${i.url}/task/submit`, task('long', { exec_ms: 60_000 }));
    const res = await fetch(`${i.url}/health`);
    expect(res.status).toBe(200);
    expect(InstanceHealthSchema.parse(await res.json())).toEqual({ status: 'ok', instance_id: 'inst-2', model_type: 'llm', replicas_running: 2, queue_size: 1 });
  });

  it('refuses a bad body with 400 naming the field, a task for another model, and unknown routes', async () => {
    const s = await scheduler();
    const i = await instance(s);
    const cases: [unknown, RegExp][] = [
      [{ model_name: 'llm', task_input: {}, metadata: {} }, /^invalid body: task_id: /],
      [{ ...task('x'), task_input: 'text' }, /^invalid body: task_input: /],
      [task('x', { exec_ms: -1 }), /^invalid body: metadata\.exec_ms: /],
      [{ ...task('x'), model_name: 'vision' }, /^invalid body: model_name: this instance serves model "llm", not "vision"$/],
      ['{not json', /^invalid body: \(body\): not JSON/],
    ];
    for (const [body, message] of cases) {
      const r = await post(`${i.url}/task/submit`, body);
      expect(r.status, JSON.stringify(body)).toBe(400);
      const e = DispatchErrorSchema.parse(r.body);
      expect(e.message).toMatch(message);
      expect(e.detail).toBe(e.message);
    }
    expect((await fetch(`${i.url}/task/submit`)).status).toBe(405);
    expect((await fetch(`${i.url}/nowhere`)).status).toBe(404);
    const big = await post(`${i.url}/task/submit`, { ...task('big'), task_input: { blob: 'x'.repeat(1024 * 1024) } });
    expect(big.status).toBe(413);
    expect(i.queue.size).toBe(0);
  });

  it('answers a re-delivered task 200 again and runs it once', async () => {
    const s = await scheduler();
    const i = await instance(s);
    expect((await post(`${i.url}/task/submit`, task('d', { exec_ms: 60_000 }))).body.message).toBe('accepted');
    const again = await post(`${i.url}/task/submit`, task('d', { exec_ms: 60_000 }));
    expect(again).toEqual({ status: 200, body: { status: 'success', message: 'already accepted', task_id: 'd', queue_size: 1 } });

    const i2 = await instance(s);
    await post(`${i2.url}/task/submit`, task('e'));
    await s.until((c) => notices(c, 'e').length === 1, 'the notice of e');
    expect((await post(`${i2.url}/task/submit`, task('e'))).body).toMatchObject({ message: 'already accepted', queue_size: 0 });
    // a task queued after the duplicate is notified after where the duplicate's notice would be
    await post(`${i2.url}/task/submit`, task('after'));
    await s.until((c) => notices(c, 'after').length === 1, 'the notice of the task after');
    expect(notices(s.calls, 'e')).toHaveLength(1);
  });

  it('retries a notice the scheduler answers 503, until it takes it', async () => {
    const s = await scheduler();
    s.fail('/notify/task_complete', [503, 503, 503]);
    const i = await instance(s);
    await post(`${i.url}/task/submit`, task('r'));
    await s.until((c) => notices(c, 'r').length === 1, 'the notice of r, taken');
    expect(s.callsTo('/notify/task_complete').map((c) => c.status)).toEqual([503, 503, 503, 200]);
  });

  it('keeps notices while the scheduler is down and sends them when it is back on its port', async () => {
    const first = await FakeScheduler.start({ token: TOKEN });
    const port = first.port;
    await first.close();
    const i = await instance(first);
    for (const id of ['a', 'b', 'c']) await post(`${i.url}/task/submit`, task(id));
    expect(i.queue.size + i.notifier.pending).toBe(3); // each task running, or its notice kept
    const back = await scheduler({ port });
    await back.until((c) => notices(c).length === 3, 'the three notices after the restart');
    expect(notices(back.calls).map((c) => (c.body as { task_id: string }).task_id).sort()).toEqual(['a', 'b', 'c']);
  });

  it('answers 503 while it holds as many tasks and untaken results as it keeps, and still 200 to a re-delivery', async () => {
    const down = await FakeScheduler.start({ token: TOKEN });
    await down.close();
    const i = await instance(down, { maxPendingNotices: 2 });
    expect((await post(`${i.url}/task/submit`, task('a'))).status).toBe(200);
    expect((await post(`${i.url}/task/submit`, task('b', { exec_ms: 60_000 }))).status).toBe(200);
    const refused = await post(`${i.url}/task/submit`, task('c'));
    expect(refused.status).toBe(503);
    expect(DispatchErrorSchema.parse(refused.body).message).toMatch(/the most it keeps \(2\)/);
    expect((await post(`${i.url}/task/submit`, task('a'))).body).toMatchObject({ message: 'already accepted' });
    expect(i.queue.knows('c')).toBe(false);
  });

  it('takes 409 (a result already kept) as final', async () => {
    const s = await scheduler();
    s.fail('/notify/task_complete', [409]);
    const i = await instance(s, { concurrency: 1 });
    await post(`${i.url}/task/submit`, task('dup'));
    await s.until((c) => c.some((x) => x.status === 409), 'the 409');
    await post(`${i.url}/task/submit`, task('next'));
    await s.until((c) => notices(c, 'next').length === 1, 'the notice of next');
    expect(s.callsTo('/notify/task_complete').filter((c) => (c.body as { task_id: string }).task_id === 'dup')).toHaveLength(1);
  });

  it('registers with --register (again after 503s), and removes itself on close', async () => {
    const s = await scheduler();
    s.fail('/ti/register', [503, 503]);
    const i = await instance(s, { register: true, model: 'llm' });
    await s.until((c) => c.some((x) => x.path === '/ti/register' && x.status === 200), 'the registration');
    expect(s.callsTo('/ti/register').map((c) => [c.status, c.body, c.authorization])).toEqual([
      [503, { host: '127.0.0.1', port: i.port, model_name: 'llm' }, `Bearer ${TOKEN}`],
      [503, { host: '127.0.0.1', port: i.port, model_name: 'llm' }, `Bearer ${TOKEN}`],
      [200, { host: '127.0.0.1', port: i.port, model_name: 'llm' }, `Bearer ${TOKEN}`],
    ]);
    expect(await i.registration!.done).toBe(`ti-127.0.0.1-${i.port}`);
    await i.close();
    expect(s.callsTo('/ti/remove').map((c) => c.body)).toEqual([{ host: '127.0.0.1', port: i.port }]);
    await expect(fetch(`${i.url}/health`)).rejects.toThrow();
  });

  it('advertises --advertise-host', async () => {
    const s = await scheduler();
    await instance(s, { register: true, advertiseHost: 'node-7.example' });
    await s.until((c) => c.some((x) => x.path === '/ti/register'), 'the registration');
    expect(s.callsTo('/ti/register')[0]!.body).toMatchObject({ host: 'node-7.example' });
  });
});
