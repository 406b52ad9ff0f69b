/**
 * What a running server really publishes matches the push contract: a real server (real host sampling, declared
 * GPUs, a manual clock for the scheduler and hints) is made to publish every event type — statuses, requests that
 * are granted, queue and conflict, are cancelled, renewed and released, a strategy change, hints raised and
 * cleared — and every envelope received over SSE, socket.io and the plain WebSocket is parsed with
 * EVENT_PAYLOADS[type]: any field missing, of another type, or not declared by the schema fails the test.
 */
import { io as connect, type Socket } from 'socket.io-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { ManualClock } from '../../server/clock.ts';
import {
  EVENT_PAYLOADS, EVENT_TYPES, EventTypeSchema,
  type ClientToServerEvents, type Envelope, type ServerToClientEvents,
} from '../../shared/events.ts';
import { startFakeInstance } from '../helpers/fake-instance.ts';
import { openSse, type SseConnection } from '../helpers/sse.ts';
import { openWs, wsUrl, type WsRecorder } from '../helpers/ws.ts';
import { startTestServer, type TestServer } from '../helpers/server.ts';

let s: TestServer;
let clock: ManualClock;
let sse: SseConnection;
let socket: Socket<ServerToClientEvents, ClientToServerEvents>;
let plain: WsRecorder;
const overSocket: Envelope[] = [];

beforeAll(async () => {
  clock = new ManualClock(Date.now());
  s = await startTestServer({
    clock,
    hostIntervalMs: 3_600_000,
    configure: (c) => {
      c.resources = { cpu: 8000, memoryMiB: 16384, gpus: [{ index: 0, memoryMiB: 16384, name: 'G0' }] };
      // a request waiting a second is "long"; every lease (10 min) is "about to expire": hints come at once
      c.hints.longWaitMs = 1000;
      c.hints.leaseWarningMs = 86_400_000;
    },
  });
  // the loop's first host sample is due at once on the manual clock: let it run (real sampling) and be published
  await clock.advance(0);
  await waitFor(() => s.app.hub.latest('resource_status') !== undefined);
  sse = await openSse(`${s.url}/api/events?access_token=${s.token}`);
  socket = connect(s.url, { transports: ['websocket'], reconnection: false, auth: { token: s.token } });
  plain = await openWs(wsUrl(s.url, `/api/resource-scheduler/push/ws?access_token=${s.token}`));
  for (const type of EVENT_TYPES) socket.on(type, (env: Envelope) => overSocket.push(env));
  await new Promise<void>((resolve, reject) => {
    socket.on('connect', resolve);
    socket.on('connect_error', reject);
  });
});
afterAll(async () => {
  socket?.disconnect();
  plain?.close();
  sse?.close();
  await s?.close();
});

const call = async (method: string, path: string, body?: unknown) => {
  const r = await fetch(`${s.url}${path}`, {
    method,
    headers: { Authorization: `Bearer ${s.token}`, ...(body !== undefined ? { 'Content-Type': 'application/json' } : {}) },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  expect(r.status, `${method} ${path}`).toBeLessThan(300);
  return z.object({ request: z.object({ id: z.string() }).optional(), allocation: z.object({ id: z.string() }).optional() }).parse(await r.json());
};

async function waitFor(pred: () => boolean, ms = 10_000): Promise<void> {
  const end = Date.now() + ms;
  while (!pred()) {
    if (Date.now() > end) throw new Error('condition not met');
    await new Promise((r) => setTimeout(r, 5));
  }
}

const EnvelopeShape = z.strictObject({ id: z.int().positive(), type: EventTypeSchema, ts: z.number(), data: z.unknown() });

/** Parse one received envelope with the contract; returns its type and the payload's `kind`, if it has one. */
function check(raw: unknown, via: string): string {
  const env = EnvelopeShape.parse(raw);
  const what = `${via}: ${env.type} #${env.id}`;
  const parsed = EVENT_PAYLOADS[env.type].safeParse(env.data);
  expect(parsed.error, what).toBeUndefined();
  // zod drops what a schema does not declare: the payload must come back whole
  expect(parsed.data, `${what}: fields the schema does not declare`).toEqual(env.data);
  const kind = z.object({ kind: z.string() }).safeParse(env.data);
  return kind.success ? `${env.type}:${kind.data.kind}` : env.type;
}

describe('the push contract on a running server', () => {
  it('publishes only payloads that parse with EVENT_PAYLOADS[type], over SSE, socket.io and plain WebSocket, for every type', async () => {
    const held = await call('POST', '/api/requests', { owner: 'ana', resources: { gpus: 1, cpu: 1000 } });
    const waiting = await call('POST', '/api/requests', { owner: 'bo', priority: 5, resources: { gpus: 1 } });
    const cancelled = await call('POST', '/api/requests', { owner: 'cy', resources: { gpus: 1 } });
    await call('DELETE', `/api/requests/${cancelled.request!.id}`);
    await call('POST', `/api/allocations/${held.allocation!.id}/renew`, {});
    await call('PUT', '/api/strategy', { name: 'fair_sharing' });
    // task dispatch: an instance registers, a task is delivered to it and completes
    const instance = await startFakeInstance();
    try {
      const post = async (path: string, body: unknown) => {
        const r = await fetch(`${s.url}${path}`, { method: 'POST', headers: { Authorization: `Bearer ${s.token}`, 'Content-Type': 'application/json' }, body: JSON.stringify(body) });
        expect(r.status, path).toBe(200);
        return (await r.json()) as Record<string, unknown>;
      };
      await post('/ti/register', { host: '127.0.0.1', port: instance.port, model_name: 'llm' });
      const taskId = (await post('/queue/submit', { model_name: 'llm', task_input: { p: 1 }, metadata: {} })).task_id as string;
      await waitFor(() => s.app.dispatcher.task(taskId)?.status === 'scheduled');
      await post('/notify/task_complete', { task_id: taskId, result: { ok: true }, execution_time: 0.1 });
    } finally {
      await instance.close();
    }
    // workers: a group asked for, then deleted (queued or started, it ends stopped)
    await call('POST', '/api/workers', { name: 'contract', replicas: 1, specs: [{ cpu: 100, gpu: 1, mem: 64, cmd: ['sleep', '30'] }] });
    await call('DELETE', '/api/workers/contract');
    // workflows: a user's one-job manual workflow, created and completed
    const answer = async (method: string, path: string, body: unknown) =>
      (await (await fetch(`${s.url}${path}`, { method, headers: { Authorization: `Bearer ${s.token}`, 'Content-Type': 'application/json' }, body: JSON.stringify(body) })).json()) as Record<string, string>;
    const user = await answer('POST', '/api/users', { username: 'contract' });
    const flow = await answer('POST', '/api/workflows', { user_id: user.id, jobs: [{ name: 'review', job_type: 'manual', branch_id: 0, parent_indices: [] }] });
    await answer('POST', `/api/workflows/${flow.workflow_id}/jobs/0/complete`, { status: 'SUCCEEDED' });
    await clock.advance(2000); // hints: a lease about to expire, a long wait
    await call('DELETE', `/api/allocations/${held.allocation!.id}`); // the waiting request gets the GPU
    await clock.advance(1000); // both hints clear
    await s.app.loop.runOnce('host');
    expect(waiting.request).toBeDefined();

    const last = s.app.hub.lastId;
    const sseEnvelopes = () => sse.frames.filter((f) => f.id !== undefined);
    await sse.until(() => Number(sseEnvelopes().at(-1)?.id) === last);
    await waitFor(() => overSocket.at(-1)?.id === last);
    await plain.until(() => plain.ids().at(-1) === last);

    const published = s.app.hub.published();
    const fromSse = sseEnvelopes().map((f) => check(JSON.parse(f.data!), 'SSE'));
    const fromSocket = overSocket.map((env) => check(env, 'socket.io'));
    expect(fromSocket).toEqual(fromSse);
    const fromPlain = plain.messages.map((m) => check(m, 'WebSocket'));
    expect(fromPlain).toEqual(fromSse);
    // every type was published and checked
    const types = new Set(fromSse.map((k) => k.split(':')[0]));
    expect([...types].sort()).toEqual([...EVENT_TYPES].sort());
    for (const type of EVENT_TYPES) expect(published.get(type) ?? 0, type).toBeGreaterThan(0);
    // and the variants this run made: each parsed with its own schema
    expect([...new Set(fromSse)]).toEqual(expect.arrayContaining([
      'resource_status',
      'hint:hint_raised', 'hint:hint_cleared',
      'conflict:conflict_opened', 'conflict:conflict_resolved',
      'scheduling_update:request_granted', 'scheduling_update:allocation_granted', 'scheduling_update:request_queued',
      'scheduling_update:request_cancelled', 'scheduling_update:allocation_renewed', 'scheduling_update:strategy_changed',
      'scheduling_update:allocation_released',
      'instance_update:instance_registered', 'task_update:task_queued', 'task_update:task_scheduled', 'task_update:task_completed',
      'worker_update:worker_created', 'worker_update:worker_state',
      'workflow_update:workflow_created', 'workflow_update:job_state', 'workflow_update:workflow_state',
    ]));
  });

  it('fails the check for a payload its schema does not describe', () => {
    const env = overSocket.find((e): e is Envelope<'conflict'> => e.type === 'conflict');
    expect(env).toBeDefined();
    expect(() => check({ ...env, data: { ...env!.data, extra: 1 } }, 'test')).toThrow(/fields the schema does not declare/);
    expect(() => check({ ...env, type: 'hint' }, 'test')).toThrow();
  });
});
