import { describe, expect, it } from 'vitest';
import { ManualClock } from '../../server/clock.ts';
import { DispatchError, Dispatcher, type DispatcherOptions } from '../../server/workloads/dispatch/dispatcher.ts';
import { probabilistic, roundRobin, shortestQueue, weighted, type RouteCandidate } from '../../server/workloads/dispatch/policies.ts';
import { Predictor } from '../../server/workloads/dispatch/predictor.ts';
import type { DispatchChange } from '../../shared/dispatch.ts';
import { rng } from '../../server/rng.ts';

function setup(opts: Partial<DispatcherOptions> = {}) {
  const clock = new ManualClock(1_700_000_000_000);
  let n = 0;
  const d = new Dispatcher({ clock, newId: () => `id${++n}`, predictor: new Predictor({ fallback: { mean: 2, sd: 1 } }), ...opts });
  const changes: DispatchChange[] = [];
  d.onChange((b) => changes.push(...b));
  const kinds = () => changes.map((c) => c.kind);
  return { clock, d, changes, kinds };
}

function dispatchError(fn: () => unknown): DispatchError {
  try {
    fn();
  } catch (e) {
    if (e instanceof DispatchError) return e;
    throw e;
  }
  throw new Error('expected a DispatchError');
}

describe('instances', () => {
  it('registering the same host:port again keeps its uuid and takes the new model (model_to_ti follows)', () => {
    const { d } = setup();
    const a = d.register('10.0.0.1', 8100, 'llm');
    const again = d.register('10.0.0.1', 8100, 'vision');
    expect(again).toMatchObject({ created: false, instance: { id: a.instance.id, model: 'vision' } });
    expect(d.instances.ofModel('llm')).toEqual([]);
    expect(d.instances.ofModel('vision').map((i) => i.id)).toEqual([a.instance.id]);
    expect(d.remove('10.0.0.9', 1)).toBeUndefined();
  });
});

describe('submit and the queue info', () => {
  it('rejects a model without instances (no_instance, 404)', () => {
    const { d } = setup();
    const e = dispatchError(() => d.submit('llm', {}, {}));
    expect([e.code, e.status]).toEqual(['no_instance', 404]);
  });

  it('routes to the shortest expected wait; waiting_time_expect = Σ means, waiting_time_error = √Σ variances (seconds)', () => {
    const { d, kinds } = setup();
    const a = d.register('a', 1, 'llm').instance;
    const b = d.register('b', 1, 'llm').instance;
    const t1 = d.submit('llm', { p: 1 }, {});
    const t2 = d.submit('llm', { p: 2 }, {});
    const t3 = d.submit('llm', { p: 3 }, {});
    // ties go to the first registered; then the shorter queue
    expect([t1.instance, t2.instance, t3.instance]).toEqual([a.id, b.id, a.id]);
    expect(t1).toMatchObject({ status: 'queued', predictedMs: { mean: 2000, sd: 1000 }, attempts: 0 });
    expect(d.queueInfo('llm')).toEqual([
      { model_name: 'llm', ti_uuid: a.id, waiting_time_expect: 4, waiting_time_error: Math.sqrt(2) },
      { model_name: 'llm', ti_uuid: b.id, waiting_time_expect: 2, waiting_time_error: 1 },
    ]);
    expect(kinds()).toEqual(['instance_registered', 'instance_registered', 'task_queued', 'task_queued', 'task_queued']);
  });
});

describe('a task\'s life', () => {
  it('queued → scheduled (accepted) → completed; a second notice is already_done (409) and keeps the first result', () => {
    const { d, clock, kinds } = setup();
    const a = d.register('a', 1, 'llm').instance;
    const t = d.submit('llm', {}, {});
    clock.advance(100);
    expect(d.accepted(t.id, a.id)).toMatchObject({ status: 'scheduled', scheduledAt: clock.now(), attempts: 1 });
    clock.advance(400);
    expect(d.complete(t.id, { out: 'x' }, 0.35)).toMatchObject({ status: 'completed', executionMs: 350, result: { out: 'x' }, endedAt: clock.now() });
    const e = dispatchError(() => d.complete(t.id, { out: 'y' }));
    expect([e.code, e.status]).toEqual(['already_done', 409]);
    expect(d.task(t.id)!.result).toEqual({ out: 'x' });
    expect(d.queueInfo('llm')[0]!.waiting_time_expect).toBe(0);
    expect(dispatchError(() => d.complete('nope', null)).status).toBe(404);
    expect(kinds().slice(-3)).toEqual(['task_queued', 'task_scheduled', 'task_completed']);
  });

  it('a failed delivery goes to another instance; after maxAttempts the task fails; downAfter failures mark the instance down', () => {
    const { d, kinds } = setup({ maxAttempts: 3, downAfter: 2 });
    const a = d.register('a', 1, 'llm').instance;
    const b = d.register('b', 1, 'llm').instance;
    const t = d.submit('llm', {}, {});
    expect(t.instance).toBe(a.id);
    const r1 = d.deliveryFailed(t.id, a.id, 'connection refused')!;
    expect(r1).toMatchObject({ status: 'queued', instance: b.id, attempts: 1 });
    const r2 = d.deliveryFailed(t.id, b.id, 'HTTP 503')!;
    expect(r2).toMatchObject({ status: 'queued', instance: a.id, attempts: 2 });
    const r3 = d.deliveryFailed(t.id, a.id, 'connection refused')!;
    expect(r3).toMatchObject({ status: 'failed', attempts: 3 });
    expect(r3.error).toMatch(/not delivered after 3 attempt\(s\): connection refused/);
    expect(d.instances.get(a.id)!.state).toBe('down');
    expect(d.instances.get(b.id)!.state).toBe('up');
    expect(kinds()).toContain('instance_down');
    // routing skips the down instance; an accepted delivery brings it back up
    const t2 = d.submit('llm', {}, {});
    expect(t2.instance).toBe(b.id);
    d.up(a.id, { instance_id: 'a-1', queue_size: 0 });
    expect(d.instances.get(a.id)).toMatchObject({ state: 'up', failures: 0, health: { instance_id: 'a-1', queue_size: 0 } });
    expect(kinds().at(-1)).toBe('instance_up');
  });

  it('removing an instance re-routes what waits on it, re-dispatches an accepted task once (rerouted), fails it the second time', () => {
    const { d } = setup();
    const a = d.register('a', 1, 'llm').instance;
    const b = d.register('b', 1, 'llm').instance;
    const c = d.register('c', 1, 'llm').instance;
    const t1 = d.submit('llm', {}, {}); // a
    d.accepted(t1.id, a.id);
    const t2 = d.submit('llm', {}, {}); // b
    const t3 = d.submit('llm', {}, {}); // c
    const t4 = d.submit('llm', {}, {}); // a (queued, not accepted)
    expect([t2.instance, t3.instance, t4.instance]).toEqual([b.id, c.id, a.id]);
    d.remove('a', 1);
    expect(d.task(t1.id)).toMatchObject({ status: 'queued', rerouted: true, scheduledAt: null });
    expect(d.task(t4.id)).toMatchObject({ status: 'queued', rerouted: false });
    expect([d.task(t1.id)!.instance, d.task(t4.id)!.instance].every((i) => i === b.id || i === c.id)).toBe(true);
    // nothing is lost: every task is still there, none on the removed instance
    expect(d.listTasks().filter((t) => t.instance === a.id)).toEqual([]);
    const where = d.task(t1.id)!.instance!;
    d.accepted(t1.id, where);
    d.remove(where === b.id ? 'b' : 'c', 1);
    expect(d.task(t1.id)).toMatchObject({ status: 'failed' });
    expect(d.task(t1.id)!.error).toMatch(/re-dispatched once already/);
  });

  it('a task of a model whose last instance goes waits unrouted and is routed when one registers', () => {
    const { d } = setup();
    d.register('a', 1, 'llm');
    const t = d.submit('llm', {}, {});
    d.remove('a', 1);
    expect(d.task(t.id)).toMatchObject({ status: 'queued', instance: null });
    expect(d.undelivered()).toEqual([]);
    const b = d.register('b', 2, 'llm').instance;
    expect(d.task(t.id)).toMatchObject({ status: 'queued', instance: b.id });
    expect(d.undelivered().map((x) => x.id)).toEqual([t.id]);
  });

  it('restores instances and tasks with their loads', () => {
    const { d } = setup();
    const a = d.register('a', 1, 'llm').instance;
    d.submit('llm', {}, {});
    const done = d.submit('llm', {}, {});
    d.complete(done.id, 1);
    const { d: d2 } = setup();
    d2.restore({ instances: d.instances.all(), tasks: d.listTasks(), policy: 'round_robin' });
    expect(d2.queueInfo()).toEqual(d.queueInfo());
    expect(d2.policyInForce).toBe('round_robin');
    expect(d2.task(done.id)!.status).toBe('completed');
    expect(d2.instances.get(a.id)).toEqual(a);
  });
});

describe('policies', () => {
  const cands = (...waits: number[]): RouteCandidate[] => waits.map((w, i) => ({ id: `i${i}`, waitMs: w, waitSdMs: 0, weight: 1 }));

  it('shortest_queue: least wait, ties by error, then order', () => {
    const p = shortestQueue();
    expect(p.choose('m', cands(5, 3, 3), Math.random).id).toBe('i1');
    expect(p.choose('m', [{ id: 'x', waitMs: 1, waitSdMs: 2, weight: 1 }, { id: 'y', waitMs: 1, waitSdMs: 1, weight: 1 }], Math.random).id).toBe('y');
  });

  it('round_robin: each in turn, per model', () => {
    const p = roundRobin();
    const c = cands(0, 0, 0);
    expect([0, 1, 2, 3].map(() => p.choose('m', c, Math.random).id)).toEqual(['i0', 'i1', 'i2', 'i0']);
    expect(p.choose('other', c, Math.random).id).toBe('i0');
  });

  it('weighted: smooth weighted round robin gives each its share, spread out (weights 3:1 → a a b a)', () => {
    const p = weighted();
    const c: RouteCandidate[] = [{ id: 'a', waitMs: 0, waitSdMs: 0, weight: 3 }, { id: 'b', waitMs: 0, waitSdMs: 0, weight: 1 }];
    expect([1, 2, 3, 4, 5, 6, 7, 8].map(() => p.choose('m', c, Math.random).id).join('')).toBe('aabaaaba');
  });

  it('probabilistic: shorter queues are likelier, every one is still chosen (seeded)', () => {
    const p = probabilistic();
    const r = rng(3);
    const counts = { i0: 0, i1: 0, i2: 0 } as Record<string, number>;
    for (let k = 0; k < 3000; k++) counts[p.choose('m', cands(0, 1000, 4000), r).id]!++;
    expect(counts.i0!).toBeGreaterThan(counts.i1!);
    expect(counts.i1!).toBeGreaterThan(counts.i2!);
    expect(counts.i2!).toBeGreaterThan(0);
  });
});

describe('predictor', () => {
  it('starts from the prior of the bucket, then pools it with what completions teach (prior weight 5)', () => {
    const p = new Predictor({ table: { llm: { key: 'size', buckets: { small: { mean: 1, sd: 0.5 } }, default: { mean: 4, sd: 2 } } } });
    expect(p.predict('llm', { size: 'small' })).toEqual({ mean: 1000, sd: 500 });
    expect(p.predict('llm', { size: 'huge' })).toEqual({ mean: 4000, sd: 2000 });
    expect(p.predict('other', {})).toEqual({ mean: 1000, sd: 1000 });
    p.learn('llm', { size: 'small' }, 2000);
    p.learn('llm', { size: 'small' }, 4000);
    // n0 = 5 at 1000 ms (variance 250,000); n = 2, x̄ = 3000, M2 = 2,000,000
    // mean = (5·1000 + 2·3000) / 7; variance = (5·250,000 + 2,000,000 + (5·2/7)·2000²) / 7
    const got = p.predict('llm', { size: 'small' });
    expect(got.mean).toBeCloseTo(11000 / 7, 9);
    expect(got.sd).toBeCloseTo(Math.sqrt((1_250_000 + 2_000_000 + (10 / 7) * 4_000_000) / 7), 9);
    expect(p.observations('llm', { size: 'small' })).toBe(2);
    expect(p.predict('llm', { size: 'huge' })).toEqual({ mean: 4000, sd: 2000 });
  });
});
