/**
 * The resource-scheduler specification's surface on a real server (fake host: 2 cores, 1000 MiB; fake GPUs: 0 idle,
 * 1 used by a process, 2 lost): the status routes with each GPU's state, the conflict queue in both orders,
 * resolve, strategy/set with the specification's time_slice (seconds → the quantum of the strategies that have
 * one; unknown keys a 400 naming them; admin only), strategy and its performance, allocate in the specification's
 * units, and the errors (400 naming the field, 404, 409, 422).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { ErrorBodySchema } from '../../shared/api.ts';
import {
  RsAllocateResponseSchema, RsContainersResponseSchema, RsCpuResponseSchema, RsGpuResponseSchema, RsPerformanceResponseSchema, RsQueueResponseSchema,
  RsResolveResponseSchema, RsStrategySetResponseSchema, RsStrategyStateSchema,
} from '../../shared/resource-scheduler.ts';
import { FakeHostSource } from '../helpers/fake-host.ts';
import { FakeDockerSource, fakeContainer } from '../helpers/fake-docker.ts';
import { FakeGpuSource, fakeGpu } from '../helpers/fake-gpu.ts';
import { startTestServer, type TestServer } from '../helpers/server.ts';

const ADMIN = 'rs-admin-token-0123456789abcdef';
const BASE = '/api/resource-scheduler';
let s: TestServer;
const gpus = new FakeGpuSource([
  fakeGpu(0),
  fakeGpu(1, { processes: [{ pid: 4242, name: 'python other.py', type: 'C', usedMemoryMiB: 2048, gpuUuid: 'GPU-1', gpuIndex: 1, gpuInstanceId: null, computeInstanceId: null, user: 'ana', containerId: null }] }),
  fakeGpu(2, { status: 'error', message: 'Unable to determine the device handle for GPU 2', health: 'error' }),
]);
beforeAll(async () => {
  s = await startTestServer({
    hostSource: new FakeHostSource(), gpuSource: gpus, dockerSource: new FakeDockerSource([fakeContainer('web')]), hostIntervalMs: 3_600_000,
    configure: (c) => {
      c.monitor.gpuIntervalMs = 3_600_000;
      c.monitor.docker = true;
      c.adminToken = ADMIN;
    },
  });
  await s.app.loop.runOnce('gpu');
  await s.app.loop.runOnce('docker');
});
afterAll(() => s.close());

const call = (method: string, path: string, body?: unknown, token = s.token) =>
  fetch(`${s.url}${BASE}/${path}`, {
    method,
    headers: { Authorization: `Bearer ${token}`, ...(body !== undefined ? { 'Content-Type': 'application/json' } : {}) },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
async function ok<S extends z.ZodType>(r: Response, schema: S, status = 200): Promise<z.infer<S>> {
  const body: unknown = await r.json();
  expect(r.status, JSON.stringify(body)).toBe(status);
  return schema.parse(body);
}
async function failure(r: Response, status: number) {
  const body: unknown = await r.json();
  expect(r.status, JSON.stringify(body)).toBe(status);
  const e = ErrorBodySchema.parse(body).error;
  return { ...e, fields: Array.isArray(e.details) ? (e.details as { field: string }[]).map((d) => d.field) : [] };
}
const allocate = (body: Record<string, unknown>) => call('POST', 'allocate', body);

describe('status', () => {
  it('GET status/cpu: cpu_state with the host figures', async () => {
    const out = await ok(await call('GET', 'status/cpu'), RsCpuResponseSchema);
    expect(out.cpu_state.cores).toBe(2);
    expect(out.success).toBe(true);
  });

  it('GET status/gpu: every GPU with state available, in_use (a process) or error, as a list and keyed by index', async () => {
    const out = await ok(await call('GET', 'status/gpu'), RsGpuResponseSchema);
    expect(out.count).toBe(3);
    expect(out.gpus.map((g) => [g.index, g.state])).toEqual([[0, 'available'], [1, 'in_use'], [2, 'error']]);
    expect(out.gpu_states['1']!.processes[0]!.pid).toBe(4242);
    expect(out.gpu_states['0']!.uuid).toBe('GPU-0');
  });

  it('GET status/containers: the containers as a list and keyed by id', async () => {
    const out = await ok(await call('GET', 'status/containers'), RsContainersResponseSchema);
    expect(out.count).toBe(1);
    expect(out.containers[0]!.name).toBe('web');
    expect(out.container_states[out.containers[0]!.id]!.name).toBe('web');
  });
});

describe('allocate, in the specification units', () => {
  it('gpu: a count of whole GPUs; the GPU it holds shows in_use with the allocation', async () => {
    const out = await ok(await allocate({ task_id: 'train-1', resource_type: 'gpu', requested_amount: 1, priority: 3 }), RsAllocateResponseSchema, 201);
    expect(out).toMatchObject({ task_id: 'train-1', status: 'granted', resources: { gpus: 1, cpu: 0, memoryMiB: 0 } });
    expect(out.request).toMatchObject({ owner: 'train-1', priority: 3 });
    const idx = out.allocation!.gpuIndices[0]!;
    const g = (await ok(await call('GET', 'status/gpu'), RsGpuResponseSchema)).gpu_states[String(idx)]!;
    expect(g).toMatchObject({ state: 'in_use', allocationIds: [out.allocation_id] });
    expect((await fetch(`${s.url}/api/allocations/${out.allocation_id}`, { method: 'DELETE', headers: { Authorization: `Bearer ${s.token}` } })).status).toBe(200);
  });

  it('cpu: percent of the machine → millicores of its capacity (50 % of 2 cores = 1000), rounded up', async () => {
    const half = await ok(await allocate({ task_id: 'cpu-task', resource_type: 'cpu', requested_amount: 50 }), RsAllocateResponseSchema, 201);
    expect(half.resources).toMatchObject({ cpu: 1000, memoryMiB: 0, gpus: 0 });
    expect(half.request.priority).toBe(5); // the specification's default
    const odd = await ok(await allocate({ task_id: 'cpu-task-2', resource_type: 'cpu', requested_amount: 0.01, metadata: { kind: 'probe', n: 1 } }), RsAllocateResponseSchema, 201);
    expect(odd.resources.cpu).toBe(1);
    expect(odd.request.labels).toEqual({ kind: 'probe', n: '1' });
  });

  it('memory: MiB, rounded up; more than the machine has is 422', async () => {
    const out = await ok(await allocate({ task_id: 'mem-task', resource_type: 'memory', requested_amount: 99.5 }), RsAllocateResponseSchema, 201);
    expect(out.resources.memoryMiB).toBe(100);
    expect((await failure(await allocate({ task_id: 'huge', resource_type: 'memory', requested_amount: 1_000_000 }), 422)).code).toBe('never_fits');
  });

  it('400 naming each bad field', async () => {
    const a = await failure(await allocate({ task_id: '', resource_type: 'disk', requested_amount: -1, extra: 1 }), 400);
    expect(a.fields).toEqual(expect.arrayContaining(['task_id', 'resource_type', 'requested_amount']));
    expect(a.message).toMatch(/extra/);
    expect((await failure(await allocate({ task_id: 't', resource_type: 'gpu', requested_amount: 1.5 }), 400)).fields).toEqual(['requested_amount']);
    expect((await failure(await allocate({ task_id: 't', resource_type: 'cpu', requested_amount: 150 }), 400)).fields).toEqual(['requested_amount']);
    expect((await failure(await allocate({ resource_type: 'cpu', requested_amount: 1 }), 400)).fields).toEqual(['task_id']);
  });
});

describe('conflicts/queue and resolve', () => {
  it('lists open conflicts and waiting requests in FIFO order, or priority order with use_priority=true (True too)', async () => {
    // the CPU is 1001 of 2000 taken: two waiters
    const lo = await ok(await allocate({ task_id: 'waiter-lo', resource_type: 'cpu', requested_amount: 90, priority: 1 }), RsAllocateResponseSchema, 202);
    const hi = await ok(await allocate({ task_id: 'waiter-hi', resource_type: 'cpu', requested_amount: 90, priority: 50 }), RsAllocateResponseSchema, 202);
    expect(lo.status).toBe('queued');
    expect(lo.conflict).toBeDefined();
    const fifo = await ok(await call('GET', 'conflicts/queue?use_priority=false'), RsQueueResponseSchema);
    expect(fifo.order).toBe('fifo');
    expect(fifo.queue.map((e) => e.request.owner)).toEqual(['waiter-lo', 'waiter-hi']);
    expect(fifo.conflicts.map((c) => c.id)).toEqual(expect.arrayContaining([lo.conflict!.id, hi.conflict!.id]));
    expect(fifo.count).toBe(fifo.conflicts.length);
    for (const q of ['use_priority=true', 'use_priority=True']) {
      const prio = await ok(await call('GET', `conflicts/queue?${q}`), RsQueueResponseSchema);
      expect(prio.use_priority).toBe(true);
      expect(prio.queue.map((e) => e.request.owner)).toEqual(['waiter-hi', 'waiter-lo']);
    }
    expect((await failure(await call('GET', 'conflicts/queue?use_priority=maybe'), 400)).fields).toEqual(['use_priority']);
    expect((await failure(await call('GET', 'conflicts/queue?order=fifo'), 400)).message).toMatch(/order/);
  });

  it('POST conflicts/{id}/resolve: 404 unknown, 400 unknown strategy, 409 when it cannot, 200 when it can', async () => {
    expect((await failure(await call('POST', 'conflicts/nope/resolve', {}), 404)).code).toBe('not_found');
    expect((await failure(await call('POST', 'conflicts/nope/resolve', { strategy: 'round_robin' }), 400)).fields).toEqual(['strategy']);
    const { conflicts } = await ok(await call('GET', 'conflicts/queue?use_priority=true'), RsQueueResponseSchema);
    const waiting = conflicts.find((c) => c.type !== 'schedule_conflict')!;
    const cannot = await failure(await call('POST', `conflicts/${waiting.id}/resolve`, { strategy: null }), 409);
    expect(cannot.message).toMatch(/priority_based/);
    // the specification's other form, the id in the body
    expect((await failure(await call('POST', 'conflicts/resolve', { conflict_id: waiting.id }), 409)).code).toBeTruthy();
    expect((await failure(await call('POST', 'conflicts/resolve', {}), 400)).fields).toEqual(['conflict_id']);
    // cancelled, its conflict is resolved: resolving it again is a 409; then everything waiting or held ends
    const auth = { Authorization: `Bearer ${s.token}` };
    expect((await fetch(`${s.url}/api/requests/${waiting.requestId}`, { method: 'DELETE', headers: auth })).status).toBe(200);
    expect((await failure(await call('POST', `conflicts/${waiting.id}/resolve`, {}), 409)).message).toMatch(/resolved/);
    const { queue } = await ok(await call('GET', 'conflicts/queue'), RsQueueResponseSchema);
    for (const e of queue) expect((await fetch(`${s.url}/api/requests/${e.request.id}`, { method: 'DELETE', headers: auth })).status).toBe(200);
    const { allocations } = (await (await fetch(`${s.url}/api/allocations?state=active`, { headers: auth })).json()) as { allocations: { id: string }[] };
    for (const x of allocations) expect((await fetch(`${s.url}/api/allocations/${x.id}`, { method: 'DELETE', headers: auth })).status).toBe(200);
  });

  it('resolves an open conflict as the named strategy would: 200 with the conflict and what was done', async () => {
    const auth = { Authorization: `Bearer ${s.token}` };
    const active = (await (await fetch(`${s.url}/api/allocations?state=active`, { headers: auth })).json()) as { allocations: { id: string }[] };
    for (const a of active.allocations) expect((await fetch(`${s.url}/api/allocations/${a.id}`, { method: 'DELETE', headers: auth })).status).toBe(200);
    // priority_based's stored config preempts with no grace; fair_sharing (in force) does not preempt
    expect((await call('POST', 'strategy/set', { strategy: 'priority_based', config: { preemption: { enabled: true, gracePeriodMs: 0 } } }, ADMIN)).status).toBe(200);
    expect((await call('POST', 'strategy/set', { strategy: 'fair_sharing' }, ADMIN)).status).toBe(200);
    const holder = await fetch(`${s.url}/api/requests`, {
      method: 'POST', headers: { ...auth, 'Content-Type': 'application/json' },
      body: JSON.stringify({ owner: 'holder', priority: 0, preemptible: true, resources: { cpu: 2000 } }),
    });
    expect(holder.status).toBe(201);
    const w = await ok(await allocate({ task_id: 'urgent', resource_type: 'cpu', requested_amount: 100, priority: 100 }), RsAllocateResponseSchema, 202);
    expect((await failure(await call('POST', `conflicts/${w.conflict!.id}/resolve`, {}), 409)).message).toMatch(/fair_sharing/);
    const out = await ok(await call('POST', `conflicts/${w.conflict!.id}/resolve`, { strategy: 'priority_based' }), RsResolveResponseSchema);
    expect(out).toMatchObject({ success: true, action: 'granted', strategy: 'priority_based', conflict: { id: w.conflict!.id, status: 'resolved', resolution: 'preempted_holder' } });
    const { conflicts, queue } = await ok(await call('GET', 'conflicts/queue'), RsQueueResponseSchema);
    expect(conflicts.map((c) => c.id)).not.toContain(w.conflict!.id);
    expect(queue).toEqual([]);
    expect((await fetch(`${s.url}/api/allocations/${(await (await fetch(`${s.url}/api/requests/${w.request_id}`, { headers: auth })).json() as { allocationId: string }).allocationId}`, { method: 'DELETE', headers: auth })).status).toBe(200);
  });
});

describe('strategy', () => {
  it('strategy/set needs the admin token (403), like PUT /api/strategy', async () => {
    expect((await failure(await call('POST', 'strategy/set', { strategy: 'fair_sharing' }), 403)).code).toBe('forbidden');
  });

  it('time_slice in seconds is the quantum of time_slicing: 10.0 → quantumMs 10000, shown by GET strategy', async () => {
    const set = await ok(await call('POST', 'strategy/set', { strategy: 'time_slicing', config: { time_slice: 10.0 } }, ADMIN), RsStrategySetResponseSchema);
    expect(set).toMatchObject({ success: true, strategy: 'time_slicing', ignored: [] });
    expect(set.config.quantumMs).toBe(10_000);
    const got = await ok(await call('GET', 'strategy'), RsStrategyStateSchema);
    expect(got).toMatchObject({ strategy: 'time_slicing', config: { quantumMs: 10_000, replicas: 1 } });
    expect((await ok(await call('GET', 'strategy/current'), RsStrategyStateSchema)).config.quantumMs).toBe(10_000);
    expect(((await (await fetch(`${s.url}/api/strategy`, { headers: { Authorization: `Bearer ${s.token}` } })).json()) as { config: { quantumMs: number } }).config.quantumMs).toBe(10_000);
    // hybrid rotates in quanta too; Arbiter's own keys of the strategy pass through beside it
    const hybrid = await ok(await call('POST', 'strategy/set', { strategy: 'hybrid', config: { time_slice: 2.5, timeSliceMaxGpus: 2 } }, ADMIN), RsStrategySetResponseSchema);
    expect(hybrid.config).toMatchObject({ quantumMs: 2500, timeSliceMaxGpus: 2 });
  });

  it('fair_sharing has no quantum: the specification example switches, time_slice reported ignored', async () => {
    const set = await ok(await call('POST', 'strategy/set', { strategy: 'fair_sharing', config: { time_slice: 10.0 } }, ADMIN), RsStrategySetResponseSchema);
    expect(set.strategy).toBe('fair_sharing');
    expect(set.ignored).toEqual([{ key: 'time_slice', reason: expect.stringMatching(/no time quantum/) }]);
    expect(set.config).not.toHaveProperty('quantumMs');
    expect((await ok(await call('GET', 'strategy'), RsStrategyStateSchema)).strategy).toBe('fair_sharing');
  });

  it('400 naming unknown config keys, a bad time_slice, an unknown strategy', async () => {
    const unknown = await failure(await call('POST', 'strategy/set', { strategy: 'time_slicing', config: { time_slice: 1, fairness_window: 3, bogus: true } }, ADMIN), 400);
    expect(unknown.fields).toEqual(['config.fairness_window', 'config.bogus']);
    expect((await failure(await call('POST', 'strategy/set', { strategy: 'time_slicing', config: { time_slice: -1 } }, ADMIN), 400)).fields).toEqual(['config.time_slice']);
    expect((await failure(await call('POST', 'strategy/set', { strategy: 'time_slicing', config: { time_slice: 'ten' } }, ADMIN), 400)).fields).toEqual(['config.time_slice']);
    expect((await failure(await call('POST', 'strategy/set', { strategy: 'round_robin' }, ADMIN), 400)).fields).toEqual(['strategy']);
    expect((await failure(await call('POST', 'strategy/set', { strategy: 'time_slicing', config: { quantumMs: 0 } }, ADMIN), 400)).fields).toEqual(['config.quantumMs']);
    expect((await ok(await call('GET', 'strategy'), RsStrategyStateSchema)).strategy).toBe('fair_sharing');
  });

  it('GET strategy/performance: every strategy, or one with ?strategy=', async () => {
    const all = await ok(await call('GET', 'strategy/performance'), RsPerformanceResponseSchema);
    expect(all.performance.current).toBe('fair_sharing');
    expect(all.performance.strategies.length).toBeGreaterThan(1);
    const one = await ok(await call('GET', 'strategy/performance?strategy=time_slicing'), RsPerformanceResponseSchema);
    expect(one.performance.strategies.map((p) => p.strategy)).toEqual(['time_slicing']);
    expect((await failure(await call('GET', 'strategy/performance?strategy=nope'), 400)).fields).toEqual(['strategy']);
  });

  it('is in the OpenAPI document, every route tagged as the compatibility surface', async () => {
    const doc = (await (await fetch(`${s.url}/api/openapi.json`, { headers: { Authorization: `Bearer ${s.token}` } })).json()) as { paths: Record<string, Record<string, { tags: string[] }>> };
    const paths = Object.keys(doc.paths).filter((p) => p.startsWith(`${BASE}/`));
    expect(paths).toEqual(expect.arrayContaining(['status/cpu', 'status/gpu', 'status/containers', 'conflicts/queue', 'conflicts/{id}/resolve', 'strategy/set', 'strategy', 'strategy/performance', 'allocate', 'push/sse'].map((p) => `${BASE}/${p}`)));
    for (const p of paths) for (const op of Object.values(doc.paths[p]!)) expect(op.tags).toEqual(['compatibility: resource-scheduler']);
    expect(doc.paths['/api/status/cpu']!.get!.tags).toEqual(['monitoring']);
  });

  it('answers 401 without a token and 404 for a path the surface does not have', async () => {
    expect((await call('GET', 'status/cpu', undefined, 'wrong')).status).toBe(401);
    expect((await failure(await call('GET', 'status/disks'), 404)).code).toBe('not_found');
  });
});
