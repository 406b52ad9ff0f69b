/**
 * The reservation for a starved request (scheduler/reservation.ts, `reserveAfterMs` of priority_based):
 * two nodes of two GPUs, each full of one-GPU jobs; a two-GPU job waits while one-GPU jobs keep coming. Without a
 * reservation every GPU freed goes to the next small job and the big one waits for ever; with one, the node whose
 * holders end soonest is set aside after the bound and the big job runs there when it drains.
 */
import { describe, expect, it } from 'vitest';
import { createStrategy } from '../../server/scheduler/strategies/index.ts';
import { HOUR, T0, gpuNode, sim } from '../helpers/cluster.ts';

const one = (expectedDurationMs?: number) => ({ owner: 'o', resources: { cpu: 1000, gpus: 1 }, ...(expectedDurationMs ? { expectedDurationMs } : {}) });
const big = { owner: 'o', resources: { cpu: 1000, gpus: 2 } };

describe.each(['priority_based'] as const)('%s: reserveAfterMs', (name) => {
  function cluster(config: object) {
    const s = sim({ strategy: createStrategy(name, { recalcMs: 1000, ...config }), nodes: [gpuNode('a', 2), gpuNode('b', 2)] });
    // a's holders are expected to run 10 h, b's 1 h
    s.submit('a0', one(10 * HOUR));
    s.submit('a1', one(10 * HOUR));
    s.submit('b0', one(HOUR));
    s.submit('b1', one(HOUR));
    expect(['a0', 'a1', 'b0', 'b1'].map(s.where)).toEqual(['a[0]', 'a[1]', 'b[0]', 'b[1]']);
    s.submit('big', big);
    s.submit('small1', one());
    s.submit('small2', one());
    return s;
  }

  it('off: every GPU freed goes to the next small job and the two-GPU job keeps waiting', async () => {
    const s = cluster({});
    await s.tickAt(120);
    s.release('b0');
    s.release('b1');
    expect([s.where('small1'), s.where('small2'), s.where('big')]).toEqual(['b[0]', 'b[1]', '-']);
  });

  it('after the bound, the node whose holders end soonest is set aside: the small jobs wait, the big one runs there', async () => {
    const s = cluster({ reserveAfterMs: 60_000 });
    await s.tickAt(61);
    s.release('b0');
    // b is held for big: small1 waits although a GPU of b is free, and a new submit does not take it either
    expect(s.where('small1')).toBe('-');
    s.submit('small3', one());
    expect(s.where('small3')).toBe('-');
    // a GPU freed elsewhere still goes to the small jobs
    s.release('a0');
    expect(s.where('small1')).toBe('a[0]');
    s.release('b1');
    expect(s.where('big')).toBe('b[0,1]');
    // the reservation ends with the grant: b's next free GPU goes to a small job again
    s.release('big');
    expect(s.where('small2')).toBe('b[0]');
  });

  it('maxReservations: a second starved request gets a node of its own; requests are reserved for in order', async () => {
    const s = sim({ strategy: createStrategy(name, { recalcMs: 1000, reserveAfterMs: 60_000, maxReservations: 2 }), nodes: [gpuNode('a', 2), gpuNode('b', 2)] });
    for (const h of ['a0', 'a1', 'b0', 'b1']) s.submit(h, one(h.startsWith('a') ? 10 * HOUR : HOUR));
    s.submit('big', big);
    s.submit('big2', big);
    await s.at(50);
    // these have waited 11 s at the next tick: not starved
    s.submit('small1', one());
    s.submit('small2', one());
    await s.tickAt(61);
    s.release('b0');
    s.release('a0');
    expect([s.where('small1'), s.where('small2')]).toEqual(['-', '-']);
    s.release('b1');
    expect(s.where('big')).toBe('b[0,1]');
    s.release('a1');
    expect(s.where('big2')).toBe('a[0,1]');
  });

  it('not before the bound', async () => {
    const s = cluster({ reserveAfterMs: 60_000 });
    await s.tickAt(30);
    s.release('b0');
    expect(s.where('small1')).toBe('b[0]');
  });

  /** b set aside for big after the bound, one of its GPUs free and small1 kept off it */
  async function reservedB() {
    const s = cluster({ reserveAfterMs: 60_000 });
    await s.tickAt(61);
    s.release('b0');
    expect(s.where('small1')).toBe('-');
    return s;
  }

  it('the node is freed for others when the starved request is cancelled', async () => {
    const s = await reservedB();
    s.step(() => s.engine.cancel(s.id('big')));
    await s.tickAt(62);
    expect(s.where('small1')).toBe('b[0]');
  });

  it('switching to a strategy that does not reserve frees the node', async () => {
    const s = await reservedB();
    s.engine.setStrategy(createStrategy(name, { recalcMs: 1000 }));
    await s.tickAt(62);
    expect(s.where('small1')).toBe('b[0]');
  });
});

/**
 * The starvation bound (`maxWaitMs`): a reserved request is granted by it — the preemptible holders in its way on its
 * node get their notice a grace period before, whatever their priority; holders that are not preemptible keep their
 * place. Node a: two one-GPU holders of a higher priority, preemptible, running 30 h; node b: two that are not
 * preemptible, running 20 h.
 */
describe('priority_based: maxWaitMs', () => {
  const holder = (preemptible: boolean, hours: number) => ({ owner: 'o', priority: 100, preemptible, resources: { cpu: 1000, gpus: 1 }, expectedDurationMs: hours * HOUR });
  function cluster(config: object, aPreemptible = true) {
    const s = sim({
      strategy: createStrategy('priority_based', { recalcMs: 1000, reserveAfterMs: 60_000, preemption: { gracePeriodMs: 30_000 }, ...config }),
      nodes: [gpuNode('a', 2), gpuNode('b', 2)],
    });
    for (const h of ['a0', 'a1']) s.submit(h, holder(aPreemptible, 30));
    for (const h of ['b0', 'b1']) s.submit(h, holder(false, 20));
    s.submit('big', big);
    return s;
  }

  it('without it the node that drains soonest is reserved (b, 20 h) and the request waits for its holders', async () => {
    const s = cluster({});
    await s.tickAt(61);
    expect(await s.tickAt(3600)).toEqual([]);
    // b is held (a GPU freed there stays free), a is not
    s.submit('small', one());
    s.release('b0');
    expect(s.where('small')).toBe('-');
    s.release('a0');
    expect(s.where('small')).toBe('a[0]');
    s.release('b1');
    expect(s.where('big')).toBe('b[0,1]');
  });

  it('the node its preemptible holders can clear is reserved; their notice comes a grace period before the bound, whatever their priority', async () => {
    const s = cluster({ maxWaitMs: 600_000 });
    await s.tickAt(61);
    // the next timed work is the bound's notice (the simulator steps to it)
    expect(s.engine.nextWakeup()).toBe(T0 + 570_000);
    expect(await s.tickAt(569)).toEqual([]);
    expect(await s.tickAt(570)).toEqual(['notice a0 at 600s', 'notice a1 at 600s']);
    expect(await s.tickAt(600)).toEqual(['preempted a0', 'preempted a1', 'granted big a[0,1]', 'resolved big preempted_holder']);
    expect(s.request('big').submittedAt + 600_000).toBe(s.allocation('big')!.grantedAt);
  });

  it('holders that are not preemptible keep their place: the request waits for them', async () => {
    const s = cluster({ maxWaitMs: 600_000 }, false);
    await s.tickAt(61);
    expect(await s.tickAt(600)).toEqual([]);
    expect(await s.tickAt(3600)).toEqual([]);
    s.release('b0');
    s.release('b1');
    expect(s.where('big')).toBe('b[0,1]');
  });

  it('a request past its bound with every reservation taken gets one of its own, on a node it can clear by then', async () => {
    const s = sim({
      strategy: createStrategy('priority_based', { recalcMs: 1000, reserveAfterMs: 60_000, maxWaitMs: 600_000, maxReservations: 1, preemption: { gracePeriodMs: 30_000 } }),
      nodes: [gpuNode('a', 2), gpuNode('b', 2), gpuNode('c', 2)],
    });
    for (const h of ['a0', 'a1', 'b0', 'b1', 'c0', 'c1']) s.submit(h, holder(!h.startsWith('b'), h.startsWith('b') ? 1 : 30));
    expect(['a0', 'b0', 'c0'].map(s.where)).toEqual(['a[0]', 'b[0]', 'c[0]']);
    s.submit('big', big);
    s.submit('big2', big);
    await s.tickAt(61);
    // one reservation (maxReservations): big's, on a (b drains in 1 h, but a is cleared by the bound at 600 s)
    expect(await s.tickAt(570)).toEqual(['notice a0 at 600s', 'notice a1 at 600s', 'notice c0 at 600s', 'notice c1 at 600s']);
    await s.tickAt(600);
    expect([s.where('big'), s.where('big2')]).toEqual(['a[0,1]', 'c[0,1]']);
  });

  it('needs a reservation that comes before it', () => {
    expect(() => createStrategy('priority_based', { maxWaitMs: 600_000 })).toThrow(/maxWaitMs/);
    expect(() => createStrategy('priority_based', { reserveAfterMs: 700_000, maxWaitMs: 600_000 })).toThrow(/reserveAfterMs/);
  });
});
