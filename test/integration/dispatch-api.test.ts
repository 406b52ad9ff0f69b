/**
 * Task dispatch over HTTP against a real server and real instances on loopback: the Scheduler.md routes and their
 * errors, delivery, completion, re-routing on removal, the policy switch, and a restart that loses nothing.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DispatchErrorSchema, QueueInfoResponseSchema, TaskQueryResponseSchema, TiRegisterResponseSchema } from '../../shared/dispatch.ts';
import { startFakeInstance, type FakeInstance } from '../helpers/fake-instance.ts';
import { startTestServer, type TestServer } from '../helpers/server.ts';
import { until } from '../helpers/cli-server.ts';


describe('task dispatch over HTTP', () => {
  let s: TestServer;
  let a: FakeInstance;
  let b: FakeInstance;
  const dataDir = mkdtempSync(join(tmpdir(), 'arbiter-dispatch-'));
  const call = async (method: string, path: string, body?: unknown, token: string | null = s.token) => {
    const res = await fetch(`${s.url}${path}`, {
      method,
      headers: { ...(token ? { authorization: `Bearer ${token}` } : {}), ...(body !== undefined ? { 'content-type': 'application/json' } : {}), accept: '*/*' },
      ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
    });
    return { status: res.status, type: res.headers.get('content-type') ?? '', body: (await res.json().catch(() => null)) as Record<string, unknown> };
  };
  const start = () => startTestServer({ dataDir, configure: (c) => { c.dispatch.probeMs = 200; c.dispatch.timeoutMs = 1000; } });

  beforeAll(async () => {
    s = await start();
    a = await startFakeInstance();
    b = await startFakeInstance();
  });
  afterAll(async () => {
    await s.close();
    await a.close();
    await b.close();
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('answers errors as {status: "error", message, detail}: bad input 400 naming the field, no instance 404, no token 401', async () => {
    const bad = await call('POST', '/queue/submit', { model_name: '', task_input: {} });
    expect(bad.status).toBe(400);
    const e = DispatchErrorSchema.parse({ status: bad.body.status, message: bad.body.message, detail: bad.body.detail });
    expect(e.detail).toMatch(/model_name/);
    const none = await call('POST', '/queue/submit', { model_name: 'llm', task_input: { p: 1 }, metadata: {} });
    expect([none.status, none.body.status]).toEqual([404, 'error']);
    expect(none.body.detail).toMatch(/no task instance serves model "llm"/);
    const anon = await call('POST', '/ti/register', { host: '127.0.0.1', port: a.port, model_name: 'llm' }, null);
    expect([anon.status, anon.body.status]).toEqual([401, 'error']);
    const gone = await call('GET', '/task/query?task_id=nope');
    expect([gone.status, gone.body.status]).toEqual([404, 'error']);
    const removed = await call('POST', '/ti/remove', { host: '10.9.9.9', port: 1 });
    expect(removed).toMatchObject({ status: 404, body: { status: 'error', host: '10.9.9.9', port: 1, ti_uuid: null } });
  });

  it('GET /health is JSON without a token, and no dispatch path falls through to the dashboard', async () => {
    const h = await call('GET', '/health', undefined, null);
    expect(h.status).toBe(200);
    expect(h.type).toMatch(/json/);
    expect(h.body.status).toBe('ok');
    const unknown = await call('GET', '/queue/nope');
    expect(unknown.status).toBe(404);
    expect(unknown.type).toMatch(/json/);
  });

  it('registers (again: the same uuid), delivers a task to its instance, completes it once (409 the second time)', async () => {
    const r1 = TiRegisterResponseSchema.parse((await call('POST', '/ti/register', { host: '127.0.0.1', port: a.port, model_name: 'llm' })).body);
    const again = TiRegisterResponseSchema.parse((await call('POST', '/ti/register', { host: '127.0.0.1', port: a.port, model_name: 'llm' })).body);
    expect(r1.status).toBe('success');
    expect(again.ti_uuid).toBe(r1.ti_uuid);
    const sub = await call('POST', '/queue/submit', { model_name: 'llm', task_input: { prompt: 'hi' }, metadata: { user: 'ana' } });
    expect(sub).toMatchObject({ status: 200, body: { status: 'success', scheduled_ti: r1.ti_uuid } });
    const taskId = sub.body.task_id as string;
    // the instance got it, field for field
    const got = await until(() => a.received.find((t) => t.task_id === taskId), 'delivery');
    expect(got).toEqual({ task_id: taskId, model_name: 'llm', task_input: { prompt: 'hi' }, metadata: { user: 'ana' } });
    await until(async () => ((await call('GET', `/task/query?task_id=${taskId}`)).body.task_status === 'scheduled' ? true : undefined), 'scheduled');
    const done = await call('POST', '/notify/task_complete', { task_id: taskId, result: { out: 'ok' }, execution_time: 0.25 });
    expect(done).toMatchObject({ status: 200, body: { status: 'success' } });
    const twice = await call('POST', '/notify/task_complete', { task_id: taskId, result: { out: 'other' } });
    expect([twice.status, twice.body.status]).toEqual([409, 'error']);
    const q = TaskQueryResponseSchema.parse((await call('GET', `/task/query?task_id=${taskId}`)).body);
    expect(q).toMatchObject({ task_id: taskId, task_status: 'completed', scheduled_ti: r1.ti_uuid, result: { out: 'ok' }, execution_time: 0.25, attempts: 1, rerouted: false });
    expect(q.total_time).toBeGreaterThanOrEqual(0);
    expect(Math.abs(q.submit_time * 1000 - Date.now())).toBeLessThan(60_000);
    // also under /api/dispatch, the same handler
    expect((await call('GET', `/api/dispatch/task/query?task_id=${taskId}`)).body).toEqual(q);
  });

  it('keeps ti_queue_info per instance, and re-routes the tasks of a removed instance to another, never losing one', async () => {
    const rb = TiRegisterResponseSchema.parse((await call('POST', '/ti/register', { host: '127.0.0.1', port: b.port, model_name: 'llm' })).body);
    const ids: string[] = [];
    for (let i = 0; i < 4; i++) ids.push((await call('POST', '/queue/submit', { model_name: 'llm', task_input: { i }, metadata: {} })).body.task_id as string);
    const info = QueueInfoResponseSchema.parse((await call('GET', '/queue/info?model_name=llm')).body);
    const ra = (await call('GET', '/api/dispatch/instances')).body.instances as { id: string; port: number }[];
    expect(info.queues.map((x) => x.ti_uuid)).toEqual([ra.find((i) => i.port === a.port)!.id, rb.ti_uuid]);
    for (const q of info.queues) expect(q.waiting_time_expect).toBeGreaterThan(0);
    await until(() => (a.received.length + b.received.length >= 1 + 4 ? true : undefined), 'deliveries');
    const onA = ids.filter((id) => a.received.some((t) => t.task_id === id));
    expect(onA.length).toBeGreaterThan(0);
    const rm = await call('POST', '/ti/remove', { host: '127.0.0.1', port: a.port });
    expect(rm.body).toMatchObject({ status: 'success', host: '127.0.0.1', port: a.port });
    // every task that was on a goes to b, once, marked rerouted
    for (const id of onA) await until(() => (b.received.some((t) => t.task_id === id) ? true : undefined), `re-delivery of ${id}`);
    for (const id of onA) expect(TaskQueryResponseSchema.parse((await call('GET', `/task/query?task_id=${id}`)).body)).toMatchObject({ scheduled_ti: rb.ti_uuid, rerouted: true });
    expect(QueueInfoResponseSchema.parse((await call('GET', '/queue/info')).body).queues.map((x) => x.ti_uuid)).toEqual([rb.ti_uuid]);
  });

  it('switches the policy (admin), pushes and keeps it; a restart keeps instances and tasks', async () => {
    const put = await call('PUT', '/api/dispatch/policy', { policy: 'round_robin' });
    expect(put).toMatchObject({ status: 200, body: { policy: 'round_robin' } });
    const bad = await call('PUT', '/api/dispatch/policy', { policy: 'fastest' });
    expect(bad.status).toBe(400);
    const before = (await call('GET', '/api/dispatch/tasks?limit=1000')).body.tasks as { id: string; status: string }[];
    await s.close();
    s = await start();
    expect((await call('GET', '/api/dispatch/policy')).body.policy).toBe('round_robin');
    const after = (await call('GET', '/api/dispatch/tasks?limit=1000')).body.tasks as { id: string; status: string }[];
    expect(after.map((t) => t.id).sort()).toEqual(before.map((t) => t.id).sort());
    const info = QueueInfoResponseSchema.parse((await call('GET', '/queue/info')).body);
    expect(info.queues).toHaveLength(1);
  });
});
