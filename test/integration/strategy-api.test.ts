/**
 * The strategy endpoints on a real server with a declared inventory and a manual clock: listing with JSON Schemas
 * and defaults, switching (admin token, 400 naming the field, pushed `strategy_changed` over SSE and socket.io,
 * persisted across a restart), live performance, switching under load without losing a request, resolving a
 * conflict with a named strategy, and compare with its suggestion hint.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { io as connect, type Socket } from 'socket.io-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { ManualClock } from '../../server/clock.ts';
import type { Config } from '../../server/config.ts';
import { ErrorBodySchema } from '../../shared/api.ts';
import type { ClientToServerEvents, Envelope, ServerToClientEvents } from '../../shared/events.ts';
import { HintEventSchema, HintSchema } from '../../shared/hints.ts';
import { AllocationSchema, ConflictSchema, RequestSchema, STRATEGY_NAMES, type Change, type StrategyName } from '../../shared/scheduler.ts';
import {
  CompareResponseSchema, PerformanceResponseSchema, STRATEGY_CONFIG_SCHEMAS, StrategiesResponseSchema, StrategyStateSchema,
} from '../../shared/strategy.ts';
import { FakeHostSource } from '../helpers/fake-host.ts';
import { openSse, type SseConnection, type SseFrame } from '../helpers/sse.ts';
import { startTestServer, type TestServer } from '../helpers/server.ts';

const ADMIN_TOKEN = 'strategy-admin-token-0123456789';
const dirs: string[] = [];
const closers: (() => unknown)[] = [];
afterAll(async () => {
  for (const close of closers.splice(0).reverse()) await close();
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

/** A started server, its clock, and calls with its token (or another). */
interface Running {
  s: TestServer;
  clock: ManualClock;
  call: (method: string, path: string, body?: unknown, token?: string) => Promise<Response>;
  get: <S extends z.ZodType>(path: string, schema: S, token?: string) => Promise<z.infer<S>>;
}

/** A server with `gpus` declared GPUs (16 GiB each), 8 cores and 16 GiB, on a manual clock. */
async function start(opts: { gpus?: number; at?: number; dataDir?: string; configure?: (c: Config) => void } = {}): Promise<Running> {
  const clock = new ManualClock(opts.at);
  const s = await startTestServer({
    clock,
    hostSource: new FakeHostSource(),
    hostIntervalMs: 3_600_000,
    ...(opts.dataDir ? { dataDir: opts.dataDir } : {}),
    configure: (c) => {
      c.resources = { cpu: 8000, memoryMiB: 16384, gpus: Array.from({ length: opts.gpus ?? 1 }, (_, index) => ({ index, memoryMiB: 16384, name: `G${index}` })) };
      opts.configure?.(c);
    },
  });
  closers.push(() => s.close()); // closing twice is harmless
  const call: Running['call'] = (method, path, body, token = s.token) =>
    fetch(`${s.url}${path}`, {
      method,
      headers: { Authorization: `Bearer ${token}`, ...(body !== undefined ? { 'Content-Type': 'application/json' } : {}) },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
  const get: Running['get'] = async (path, schema, token) => {
    const r = await call('GET', path, undefined, token);
    expect(r.status, path).toBe(200);
    return schema.parse(await r.json());
  };
  return { s, clock, call, get };
}

async function events(n: Running, types: string): Promise<SseConnection> {
  const sse = await openSse(`${n.s.url}/api/events?types=${types}&access_token=${n.s.token}`);
  closers.push(() => sse.close());
  return sse;
}

const changeOf = (f: SseFrame) => (f.data ? (JSON.parse(f.data) as Envelope<'conflict' | 'scheduling_update'>).data : undefined);
const hasChange = (kind: string, pred: (c: Change) => boolean = () => true) => (frames: SseFrame[]) =>
  frames.some((f) => { const c = changeOf(f); return c?.kind === kind && pred(c); });

/** A 4xx answer: its status and the error body. */
async function failure(r: Response, status: number) {
  expect(r.status).toBe(status);
  return ErrorBodySchema.parse(await r.json()).error;
}
const fieldsOf = (details: unknown) => ((details ?? []) as { field: string }[]).map((d) => d.field);

const SessionSchema = z.object({ auth: z.boolean(), admin: z.boolean() });

async function submit(n: Running, body: Record<string, unknown>, expected: 201 | 202) {
  const r = await n.call('POST', '/api/requests', body);
  expect(r.status, JSON.stringify(body)).toBe(expected);
  const out = (await r.json()) as { request: unknown; allocation?: unknown; conflict?: unknown };
  return {
    request: RequestSchema.parse(out.request),
    allocation: out.allocation === undefined ? undefined : AllocationSchema.parse(out.allocation),
    conflict: out.conflict === undefined ? undefined : ConflictSchema.parse(out.conflict),
  };
}

describe('GET /api/strategies, GET and PUT /api/strategy', () => {
  let n: Running;
  let sse: SseConnection;
  beforeAll(async () => {
    n = await start({ gpus: 2 });
    sse = await events(n, 'scheduling_update');
  });

  it('lists the six strategies, each with its config JSON Schema and the defaults its schema parses from {}, one current', async () => {
    const { strategies } = await n.get('/api/strategies', StrategiesResponseSchema);
    expect(strategies.map((x) => x.name).sort()).toEqual([...STRATEGY_NAMES].sort());
    for (const info of strategies) {
      expect(info.defaults, info.name).toEqual(STRATEGY_CONFIG_SCHEMAS[info.name].parse({}));
      expect(info.description.length).toBeGreaterThan(0);
      expect(String(info.configSchema.$schema)).toContain('2020-12');
      expect(info.configSchema.type).toBe('object');
      expect(info.configSchema.additionalProperties).toBe(false);
      // every documented field is in the JSON Schema, and nothing else
      expect(Object.keys(info.configSchema.properties as object).sort()).toEqual(Object.keys(info.defaults).sort());
    }
    expect(strategies.filter((x) => x.current).map((x) => x.name)).toEqual(['priority_based']);
    const state = await n.get('/api/strategy', StrategyStateSchema);
    expect(state.name).toBe('priority_based');
    expect(state.config).toEqual(STRATEGY_CONFIG_SCHEMAS.priority_based.parse({}));
    // without an admin token the API token has the right to switch
    expect(await n.get('/api/session', SessionSchema)).toEqual({ auth: true, admin: true });
  });

  it('switches with PUT: GET shows the strategy and its config, strategy_changed is pushed over SSE and socket.io, performance has both rows', async () => {
    const socket: Socket<ServerToClientEvents, ClientToServerEvents> = connect(n.s.url, {
      transports: ['websocket'], reconnection: false, auth: { token: n.s.token, types: ['scheduling_update'] },
    });
    closers.push(() => socket.disconnect());
    await new Promise<void>((resolve, reject) => {
      socket.on('connect', resolve);
      socket.on('connect_error', reject);
    });
    const pushed = new Promise<Change>((resolve) => {
      socket.on('scheduling_update', (env) => {
        const c = env.data as Change;
        if (c.kind === 'strategy_changed') resolve(c);
      });
    });

    const config = { defaultWeight: 2, ownerWeights: { ana: 3 } };
    const expected = STRATEGY_CONFIG_SCHEMAS.fair_sharing.parse(config);
    const put = await n.call('PUT', '/api/strategy', { name: 'fair_sharing', config });
    expect(put.status).toBe(200);
    const answered = StrategyStateSchema.parse(await put.json());
    expect(answered).toMatchObject({ name: 'fair_sharing', config: expected, since: n.clock.now() });
    expect(await n.get('/api/strategy', StrategyStateSchema)).toEqual(answered);
    const { strategies } = await n.get('/api/strategies', StrategiesResponseSchema);
    expect(strategies.filter((x) => x.current).map((x) => x.name)).toEqual(['fair_sharing']);

    const frames = await sse.until(hasChange('strategy_changed'));
    const overSse = frames.map(changeOf).find((c) => c?.kind === 'strategy_changed');
    expect(overSse).toMatchObject({ kind: 'strategy_changed', strategy: 'fair_sharing', previous: 'priority_based', config: expected });
    expect(frames.find((f) => changeOf(f)?.kind === 'strategy_changed')!.event).toBe('scheduling_update');
    expect(await pushed).toEqual(overSse);

    await n.clock.advance(5000);
    const perf = await n.get('/api/strategy/performance', PerformanceResponseSchema);
    expect(perf.current).toBe('fair_sharing');
    expect(perf.starvationMs).toBe(600_000);
    expect(perf.strategies.map((x) => x.strategy).sort()).toEqual(['fair_sharing', 'priority_based']);
    expect(perf.strategies.find((x) => x.strategy === 'fair_sharing')!.activeMs).toBe(5000);
  });

  it('answers 400 naming `name` for an unknown strategy and `config.<field>` for a bad config, and keeps the strategy', async () => {
    const before = await n.get('/api/strategy', StrategyStateSchema);
    const unknown = await failure(await n.call('PUT', '/api/strategy', { name: 'round_robin' }), 400);
    expect(fieldsOf(unknown.details)).toContain('name');
    expect(unknown.message).toMatch(/name/);

    const bad = await failure(await n.call('PUT', '/api/strategy', { name: 'time_slicing', config: { quantumMs: -1, colour: 'red' } }), 400);
    expect(fieldsOf(bad.details)).toContain('config.quantumMs');
    expect(bad.message).toMatch(/config\.quantumMs/);
    expect(bad.message).toMatch(/colour/); // unknown keys are rejected, not dropped

    const nested = await failure(await n.call('PUT', '/api/strategy', { name: 'priority_based', config: { preemption: { gracePeriodMs: 'soon' } } }), 400);
    expect(fieldsOf(nested.details)).toContain('config.preemption.gracePeriodMs');
    await failure(await n.call('PUT', '/api/strategy', { name: 'hybrid', extra: 1 }), 400);
    // a starvation bound acts on reserved requests: it needs reserveAfterMs, at most the bound
    const unbound = await failure(await n.call('PUT', '/api/strategy', { name: 'priority_based', config: { maxWaitMs: 600_000 } }), 400);
    expect(fieldsOf(unbound.details)).toEqual(['config.maxWaitMs']);
    expect(unbound.message).toMatch(/reserveAfterMs/);

    expect(await n.get('/api/strategy', StrategyStateSchema)).toEqual(before);
    const changes = sse.frames.map(changeOf).filter((c) => c?.kind === 'strategy_changed');
    expect(changes).toHaveLength(1);
  });

  it('switching back without a config uses the config the strategy had last', async () => {
    const ts = { replicas: 2, quantumMs: 5000 };
    expect((await n.call('PUT', '/api/strategy', { name: 'time_slicing', config: ts })).status).toBe(200);
    expect((await n.call('PUT', '/api/strategy', { name: 'fair_sharing' })).status).toBe(200);
    expect((await n.get('/api/strategy', StrategyStateSchema)).config).toEqual(STRATEGY_CONFIG_SCHEMAS.fair_sharing.parse({ defaultWeight: 2, ownerWeights: { ana: 3 } }));
    expect((await n.call('PUT', '/api/strategy', { name: 'time_slicing' })).status).toBe(200);
    expect((await n.get('/api/strategy', StrategyStateSchema)).config).toEqual(STRATEGY_CONFIG_SCHEMAS.time_slicing.parse(ts));
  });
});

describe('the admin token', () => {
  let n: Running;
  beforeAll(async () => {
    n = await start({ configure: (c) => void (c.adminToken = ADMIN_TOKEN) });
  });

  it('PUT /api/strategy needs it (403 with the API token); GETs work with either; /api/session says which', async () => {
    const denied = await failure(await n.call('PUT', '/api/strategy', { name: 'hybrid' }), 403);
    expect(denied.code).toBe('forbidden');
    expect((await n.get('/api/strategy', StrategyStateSchema)).name).toBe('priority_based');

    const ok = await n.call('PUT', '/api/strategy', { name: 'hybrid' }, ADMIN_TOKEN);
    expect(ok.status).toBe(200);
    expect(StrategyStateSchema.parse(await ok.json()).name).toBe('hybrid');

    expect((await n.get('/api/session', SessionSchema)).admin).toBe(false);
    expect((await n.get('/api/session', SessionSchema, ADMIN_TOKEN)).admin).toBe(true);
    for (const token of [n.s.token, ADMIN_TOKEN]) {
      expect((await n.get('/api/strategy', StrategyStateSchema, token)).name).toBe('hybrid');
      expect((await n.get('/api/strategies', StrategiesResponseSchema, token)).strategies).toHaveLength(6);
      expect((await n.get('/api/strategy/performance', PerformanceResponseSchema, token)).current).toBe('hybrid');
    }
    expect((await n.call('PUT', '/api/strategy', { name: 'fair_sharing' }, 'not-a-token-at-all-0000')).status).toBe(401);
    expect((await n.get('/api/strategy', StrategyStateSchema)).name).toBe('hybrid');
  });
});

describe('persistence', () => {
  it('a restart on the same data dir keeps the strategy and config last chosen; scheduler.strategy applies only at the first start', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'arbiter-strategy-'));
    dirs.push(dataDir);
    const a = await start({ dataDir, configure: (c) => void (c.scheduler.strategy = 'hybrid') });
    const first = await a.get('/api/strategy', StrategyStateSchema);
    expect(first.name).toBe('hybrid');
    expect(first.config).toEqual(STRATEGY_CONFIG_SCHEMAS.hybrid.parse({}));
    await a.clock.advance(2000);
    const put = await a.call('PUT', '/api/strategy', { name: 'time_slicing', config: { replicas: 3, quantumMs: 15_000, queueThresholds: [1000] } });
    expect(put.status).toBe(200);
    const chosen = StrategyStateSchema.parse(await put.json());
    expect(chosen.config).toEqual(STRATEGY_CONFIG_SCHEMAS.time_slicing.parse({ replicas: 3, quantumMs: 15_000, queueThresholds: [1000] }));
    await a.s.close();

    const b = await start({ dataDir, at: a.clock.now() + 60_000, configure: (c) => void (c.scheduler.strategy = 'load_balancing') });
    expect(await b.get('/api/strategy', StrategyStateSchema)).toEqual(chosen);
    const { strategies } = await b.get('/api/strategies', StrategiesResponseSchema);
    expect(strategies.filter((x) => x.current).map((x) => x.name)).toEqual(['time_slicing']);
    expect((await b.get('/api/strategy/performance', PerformanceResponseSchema)).current).toBe('time_slicing');
    await b.s.close();
  });
});

describe('performance across a restart', () => {
  it('is rebuilt from the decision log: the figures of earlier strategies and runs are kept', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'arbiter-perf-'));
    dirs.push(dataDir);
    const a = await start({ dataDir, gpus: 1 });
    // priority_based: r1 granted at once, r2 waits 4 s for r1's release
    const r1 = await a.call('POST', '/api/requests', { owner: 'ann', resources: { gpus: 1 } });
    expect(r1.status).toBe(201);
    const alloc = ((await r1.json()) as { allocation: { id: string } }).allocation.id;
    expect((await a.call('POST', '/api/requests', { owner: 'bob', resources: { gpus: 1 } })).status).toBe(202);
    await a.clock.advance(4000);
    expect((await a.call('DELETE', `/api/allocations/${alloc}`)).status).toBe(200);
    await a.clock.advance(1000);
    expect((await a.call('PUT', '/api/strategy', { name: 'fair_sharing' })).status).toBe(200);
    await a.clock.advance(1000);
    const before = await a.get('/api/strategy/performance', PerformanceResponseSchema);
    const pb = before.strategies.find((x) => x.strategy === 'priority_based')!;
    expect(pb).toMatchObject({ requests: 2, granted: 2, waitMs: { mean: 2000, p50: 0, p95: 4000 } });
    await a.s.close();

    const b = await start({ dataDir, gpus: 1, at: a.clock.now() + 10_000 });
    const after = await b.get('/api/strategy/performance', PerformanceResponseSchema);
    expect(after.current).toBe('fair_sharing');
    expect(after.strategies.map((x) => x.strategy)).toEqual(['priority_based', 'fair_sharing']);
    expect(after.strategies.find((x) => x.strategy === 'priority_based')).toMatchObject({ requests: 2, granted: 2, cancelled: 0, waitMs: { mean: 2000, p50: 0, p95: 4000 } });
    await b.s.close();
  });
});

describe('switching under load', () => {
  it('keeps every request: queued + granted = submitted, each once, across switches in flight', async () => {
    const n = await start({ gpus: 2 });
    const N = 40;
    const switches: [StrategyName, Record<string, unknown>?][] = [
      ['fair_sharing'], ['time_slicing', { replicas: 2 }], ['resource_pooling'], ['load_balancing'], ['hybrid'], ['time_slicing', { replicas: 1 }], ['priority_based'],
    ];
    const submits: Promise<string>[] = [];
    const puts: Promise<number>[] = [];
    for (let i = 0; i < N; i++) {
      const resources = i % 3 === 0 ? { cpu: 1500 } : i % 3 === 1 ? { gpus: 1, cpu: 500 } : { gpuMemMiB: 6000, memoryMiB: 1024 };
      submits.push(n.call('POST', '/api/requests', { owner: `u${i % 5}`, priority: i % 4, resources }).then(async (r) => {
        expect([201, 202]).toContain(r.status);
        return RequestSchema.parse(((await r.json()) as { request: unknown }).request).id;
      }));
      if (i % 6 === 5) {
        const [name, config] = switches[(i - 5) / 6]!;
        puts.push(n.call('PUT', '/api/strategy', { name, ...(config ? { config } : {}) }).then((r) => r.status));
      }
    }
    const submitted = await Promise.all(submits);
    expect(await Promise.all(puts)).toEqual(puts.map(() => 200));
    expect(new Set(submitted).size).toBe(N);

    const count = async () => {
      const queue = (await (await n.call('GET', '/api/queue?limit=1000')).json()) as { total: number; items: { request: { id: string; status: string } }[] };
      const { allocations } = (await (await n.call('GET', '/api/allocations')).json()) as { allocations: { requestId: string }[] };
      expect(queue.total).toBe(queue.items.length);
      expect(queue.items.every((x) => x.request.status === 'queued')).toBe(true);
      const all = [...queue.items.map((x) => x.request.id), ...allocations.map((a) => a.requestId)];
      expect(all.length).toBe(N);
      expect([...all].sort()).toEqual([...submitted].sort());
      return { queued: queue.total, granted: allocations.length };
    };
    const now = await count();
    expect(now.queued).toBeGreaterThan(0); // beyond capacity
    expect(now.granted).toBeGreaterThan(0);
    // a few ticks under the last strategy (passes, rotations) lose nothing either
    await n.clock.advance(5000);
    await count();
    expect((await n.call('PUT', '/api/strategy', { name: 'time_slicing', config: { replicas: 4, quantumMs: 1000 } })).status).toBe(200);
    await n.clock.advance(3000);
    await count();
    await n.s.close();
  });
});

describe('POST /api/conflicts/:id/resolve', () => {
  let n: Running;
  let sse: SseConnection;
  beforeAll(async () => {
    n = await start({ gpus: 1 });
    sse = await events(n, 'scheduling_update,conflict');
  });
  const resolve = (id: string, body?: unknown) => n.call('POST', `/api/conflicts/${id}/resolve`, body);
  /** The answer: the conflict as it is now, with what was done and by which strategy. */
  const resolved = async (r: Response, status: number) => {
    expect(r.status).toBe(status);
    const body: unknown = await r.json();
    ConflictSchema.parse(body);
    return body as z.infer<typeof ConflictSchema> & { action: string; strategy: string; resolvesAt?: number };
  };

  it('answers 404 for an unknown conflict and 400 for an unknown strategy name', async () => {
    expect((await failure(await resolve('no-such-conflict'), 404)).code).toBe('not_found');
    const bad = await failure(await resolve('no-such-conflict', { strategy: 'round_robin' }), 400);
    expect(fieldsOf(bad.details)).toContain('strategy');
  });

  it('answers 409 naming the strategy when it cannot resolve (priority_based, no preemptible lower-priority holder)', async () => {
    const holder = await submit(n, { owner: 'lo', priority: 0, resources: { gpus: 1 } }, 201);
    const waiter = await submit(n, { owner: 'hi', priority: 10, resources: { gpus: 1 } }, 202);
    const err = await failure(await resolve(waiter.conflict!.id), 409);
    expect(err.message).toMatch(/priority_based/);
    const bad = await failure(await resolve(waiter.conflict!.id, { strategy: 'nope' }), 400);
    expect(fieldsOf(bad.details)).toContain('strategy');
    // clean up: the holder leaves, the waiter is granted and leaves
    expect((await n.call('DELETE', `/api/allocations/${holder.allocation!.id}`)).status).toBe(200);
    const granted = RequestSchema.parse(await (await n.call('GET', `/api/requests/${waiter.request.id}`)).json());
    expect(granted.status).toBe('granted');
    expect((await n.call('DELETE', `/api/allocations/${granted.allocationId}`)).status).toBe(200);
  });

  it('with the default 30 s grace: 202 preempting with resolvesAt; the holder is preempted then and the conflict resolved preempted_holder', async () => {
    const holder = await submit(n, { owner: 'lo', priority: 0, preemptible: true, resources: { gpus: 1 } }, 201);
    const waiter = await submit(n, { owner: 'hi', priority: 10, resources: { gpus: 1 } }, 202);
    const t = n.clock.now();
    const out = await resolved(await resolve(waiter.conflict!.id), 202);
    expect(out).toMatchObject({ id: waiter.conflict!.id, status: 'open', action: 'preempting', strategy: 'priority_based', resolvesAt: t + 30_000 });
    const { allocations } = (await (await n.call('GET', '/api/allocations')).json()) as { allocations: z.infer<typeof AllocationSchema>[] };
    expect(allocations.find((a) => a.id === holder.allocation!.id)).toMatchObject({ preemptAt: t + 30_000, preemptedFor: waiter.request.id });
    await sse.until(hasChange('allocation_preempting', (c) => 'allocation' in c && c.allocation.id === holder.allocation!.id));

    await n.clock.advance(29_000);
    expect(ConflictSchema.parse(await (await n.call('GET', `/api/conflicts/${waiter.conflict!.id}`)).json()).status).toBe('open');
    await n.clock.advance(1_000);
    await sse.until(hasChange('conflict_resolved', (c) => 'conflict' in c && c.conflict.id === waiter.conflict!.id));
    const c = ConflictSchema.parse(await (await n.call('GET', `/api/conflicts/${waiter.conflict!.id}`)).json());
    expect(c).toMatchObject({ status: 'resolved', resolution: 'preempted_holder' });
    expect(RequestSchema.parse(await (await n.call('GET', `/api/requests/${holder.request.id}`)).json()).status).toBe('preempted');
    const w = RequestSchema.parse(await (await n.call('GET', `/api/requests/${waiter.request.id}`)).json());
    expect(w.status).toBe('granted');
    // resolving it again: it is no longer open
    expect((await failure(await resolve(waiter.conflict!.id), 409)).message).toMatch(/already resolved/);
    expect((await n.call('DELETE', `/api/allocations/${w.allocationId}`)).status).toBe(200);
  });

  it('with {strategy: priority_based} whose stored config has grace 0, under fair_sharing: 200, the holder preempted at once, conflict resolved preempted_holder, no switch', async () => {
    expect((await n.call('PUT', '/api/strategy', { name: 'priority_based', config: { preemption: { gracePeriodMs: 0 } } })).status).toBe(200);
    expect((await n.call('PUT', '/api/strategy', { name: 'fair_sharing' })).status).toBe(200);
    const holder = await submit(n, { owner: 'lo', priority: 0, preemptible: true, resources: { gpus: 1 } }, 201);
    const waiter = await submit(n, { owner: 'hi', priority: 10, resources: { gpus: 1 } }, 202);
    // fair_sharing (preemption off) cannot, and says so
    expect((await failure(await resolve(waiter.conflict!.id), 409)).message).toMatch(/fair_sharing/);

    const out = await resolved(await resolve(waiter.conflict!.id, { strategy: 'priority_based' }), 200);
    expect(out).toMatchObject({ id: waiter.conflict!.id, status: 'resolved', resolution: 'preempted_holder', action: 'granted', strategy: 'priority_based' });
    expect(out.resolvesAt).toBeUndefined();
    expect(RequestSchema.parse(await (await n.call('GET', `/api/requests/${holder.request.id}`)).json()).status).toBe('preempted');
    expect(RequestSchema.parse(await (await n.call('GET', `/api/requests/${waiter.request.id}`)).json()).status).toBe('granted');
    await sse.until(hasChange('conflict_resolved', (c) => 'conflict' in c && c.conflict.id === waiter.conflict!.id && c.conflict.resolution === 'preempted_holder'));
    expect((await n.get('/api/strategy', StrategyStateSchema)).name).toBe('fair_sharing');
  });
});

describe('POST /api/strategy/compare', () => {
  let n: Running;
  let sse: SseConnection;
  beforeAll(async () => {
    n = await start({ gpus: 1 });
    sse = await events(n, 'hint');
  });
  const compare = async (body: unknown) => {
    const r = await n.call('POST', '/api/strategy/compare', body);
    expect(r.status).toBe(200);
    return CompareResponseSchema.parse(await r.json());
  };
  const hintEvent = (kind: 'hint_raised' | 'hint_cleared') => (frames: SseFrame[]) => frames.some((f) => {
    const ev = f.data === undefined ? undefined : HintEventSchema.parse((JSON.parse(f.data) as Envelope).data);
    return ev?.kind === kind && ev.hint.kind === 'strategy_suggestion';
  });
  const suggestionHints = async () => {
    const { hints } = (await (await n.call('GET', '/api/hints')).json()) as { hints: unknown[] };
    return hints.map((h) => HintSchema.parse(h)).filter((h) => h.kind === 'strategy_suggestion');
  };

  it('answers 400 for hours ≤ 0, and rows for all six with no suggestion (and no hint) before any request', async () => {
    const bad = await failure(await n.call('POST', '/api/strategy/compare', { hours: -1 }), 400);
    expect(fieldsOf(bad.details)).toContain('hours');
    await failure(await n.call('POST', '/api/strategy/compare', { hours: 1, colour: 'red' }), 400);

    const empty = await compare({ hours: 1 });
    expect(empty.rows.map((r) => r.strategy).sort()).toEqual([...STRATEGY_NAMES].sort());
    expect(empty).toMatchObject({ requests: 0, current: 'priority_based', suggestion: null, to: n.clock.now(), from: n.clock.now() - 3_600_000 });
    await n.clock.advance(1000);
    expect(await suggestionHints()).toEqual([]);
  });

  it('replays the requests of the window under every strategy and suggests one that cuts the mean wait; the hint follows', async () => {
    // time_slicing last ran with 4 replicas per GPU: four 1-GPU jobs run side by side where the others queue them
    expect((await n.call('PUT', '/api/strategy', { name: 'time_slicing', config: { replicas: 4 } })).status).toBe(200);
    expect((await n.call('PUT', '/api/strategy', { name: 'priority_based' })).status).toBe(200);

    const old = await submit(n, { owner: 'old', resources: { cpu: 100 } }, 201);
    expect((await n.call('DELETE', `/api/allocations/${old.allocation!.id}`)).status).toBe(200);
    await n.clock.advance(40_000);
    await submit(n, { owner: 'a', resources: { gpus: 1 }, expectedDurationMs: 60_000 }, 201);
    for (const owner of ['b', 'c', 'd']) await submit(n, { owner, resources: { gpus: 1 }, expectedDurationMs: 60_000 }, 202);
    await n.clock.advance(10_000);

    // 36 s back: only the four GPU requests; the hour: all five
    expect((await compare({ hours: 0.01, strategies: ['priority_based'] })).requests).toBe(4);
    const out = await compare({ hours: 1 });
    expect(out.requests).toBe(5);
    expect(out.current).toBe('priority_based');
    expect(out.rows.map((r) => r.strategy).sort()).toEqual([...STRATEGY_NAMES].sort());
    for (const row of out.rows) expect(row.requests, row.strategy).toBe(5);
    const mine = out.rows.find((r) => r.strategy === 'priority_based')!;
    const sliced = out.rows.find((r) => r.strategy === 'time_slicing')!;
    expect(mine.waitMs.mean).toBeGreaterThan(0);
    expect(sliced.waitMs.mean).toBe(0);
    expect(out.suggestion).toEqual({ strategy: 'time_slicing', meanWaitCut: 1 });

    await n.clock.advance(1000);
    const hints = await suggestionHints();
    expect(hints).toHaveLength(1);
    expect(hints[0]).toMatchObject({ kind: 'strategy_suggestion', status: 'active', subject: { kind: 'strategy', id: 'time_slicing' } });
    expect(hints[0]!.message).toMatch(/priority_based/);
    await sse.until(hintEvent('hint_raised'));
  });

  it('the hint is cleared when a later compare finds nothing better; an empty body compares the last 24 h', async () => {
    // load_balancing places these four 1-GPU jobs one after another as priority_based does: the same waits
    const out = await compare({ hours: 1, strategies: ['priority_based', 'load_balancing'] });
    expect(out.rows.map((r) => r.strategy)).toEqual(['priority_based', 'load_balancing']);
    expect(out.rows[1]!.waitMs.mean).toBe(out.rows[0]!.waitMs.mean);
    expect(out.suggestion).toBeNull();
    await n.clock.advance(1000);
    expect(await suggestionHints()).toEqual([]);
    await sse.until(hintEvent('hint_cleared'));

    const r = await n.call('POST', '/api/strategy/compare');
    expect(r.status).toBe(200);
    const all = CompareResponseSchema.parse(await r.json());
    expect(all.to - all.from).toBe(24 * 3_600_000);
    expect(all.requests).toBe(5);
    expect(all.rows).toHaveLength(6);
  });
});
