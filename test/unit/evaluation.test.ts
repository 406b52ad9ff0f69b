import { describe, expect, it } from 'vitest';
import { ManualClock } from '../../server/clock.ts';
import { SchedulerEngine } from '../../server/scheduler/engine.ts';
import { PerformanceRecorder, Samples, type PerformanceRecorderOptions } from '../../server/scheduler/evaluation.ts';
import { declaredInventory } from '../../server/scheduler/inventory.ts';
import type { Allocation, Change, Request, Resources, StrategyName } from '../../shared/scheduler.ts';
import { StrategyPerformanceSchema, type StrategyPerformance } from '../../shared/strategy.ts';
import { rng } from '../helpers/rng.ts';

const GiB = 1024;

/** Hand-made change records, as the engine emits them. */
function jobs() {
  const requests = new Map<string, Request>();
  const allocations = new Map<string, Allocation>();
  const submit = (id: string, owner: string, at: number, resources: Partial<Resources> = { gpus: 1 }): Request => {
    const r: Request = {
      id, owner, priority: 0, preemptible: false, submittedAt: at, updatedAt: at, status: 'queued',
      resources: { cpu: 0, memoryMiB: 0, gpus: 0, ...resources },
    };
    requests.set(id, r);
    return r;
  };
  const req = (id: string) => requests.get(id)!;
  return {
    /** submitted and waiting */
    queued(id: string, owner: string, at: number, resources?: Partial<Resources>): Change[] {
      return [{ kind: 'request_queued', at, request: submit(id, owner, at, resources) }];
    },
    /** granted (at submit when not queued before); `gpuIndices` default [0] for GPU requests */
    granted(id: string, at: number, gpuIndices?: number[], node = 'n1'): Change[] {
      const r = req(id);
      const allocation: Allocation = {
        id: `a-${id}`, requestId: id, node, gpuIndices: gpuIndices ?? (r.resources.gpus || r.resources.gpuMemMiB ? [0] : []),
        resources: r.resources, grantedAt: at, leaseExpiresAt: at + 600_000, state: 'active',
      };
      allocations.set(id, allocation);
      const g: Request = { ...r, status: 'granted', allocationId: allocation.id, updatedAt: at };
      requests.set(id, g);
      return [{ kind: 'request_granted', at, request: g }, { kind: 'allocation_granted', at, allocation }];
    },
    /** submitted and granted at once */
    submitGranted(id: string, owner: string, at: number, resources?: Partial<Resources>, gpuIndices?: number[]): Change[] {
      submit(id, owner, at, resources);
      return this.granted(id, at, gpuIndices);
    },
    cancelled(id: string, at: number): Change[] {
      return [{ kind: 'request_cancelled', at, request: { ...req(id), status: 'cancelled', updatedAt: at } }];
    },
    ended(id: string, at: number, how: 'released' | 'expired' | 'preempted'): Change[] {
      const allocation = { ...allocations.get(id)!, state: how, endedAt: at };
      const request = { ...req(id), status: how, updatedAt: at };
      return [{ kind: `allocation_${how}`, at, allocation, request }];
    },
    suspended(id: string, at: number): Change[] {
      return [{ kind: 'allocation_suspended', at, allocation: { ...allocations.get(id)!, suspendedAt: at } }];
    },
    resumed(id: string, at: number): Change[] {
      return [{ kind: 'allocation_resumed', at, allocation: allocations.get(id)! }];
    },
    switched(at: number, strategy: StrategyName, previous: StrategyName): Change[] {
      return [{ kind: 'strategy_changed', at, strategy, previous }];
    },
    req,
    alloc: (id: string) => allocations.get(id)!,
  };
}

function recorder(opts: PerformanceRecorderOptions & { capacity?: number } = {}) {
  const rec = new PerformanceRecorder({ strategy: 'fair_sharing', since: 0, ...opts });
  if (opts.capacity !== undefined) rec.setCapacity(0, opts.capacity);
  return rec;
}

function row(rows: StrategyPerformance[], name: StrategyName): StrategyPerformance {
  const r = rows.find((x) => x.strategy === name);
  if (!r) throw new Error(`no row for ${name}`);
  expect(StrategyPerformanceSchema.parse(r)).toEqual(r);
  return r;
}

describe('PerformanceRecorder: counts and waits', () => {
  it('counts submits, grants, cancels, failures, preemptions and starvation; waits exact', () => {
    const j = jobs();
    const rec = recorder({ capacity: 4, starvationMs: 100 });
    rec.record([
      ...j.submitGranted('r1', 'a', 0),
      ...j.submitGranted('r2', 'b', 0),
    ]);
    rec.record(j.queued('r3', 'a', 10));
    rec.record(j.queued('r4', 'b', 20, { gpus: 2 }));
    rec.record(j.queued('r5', 'c', 30, { cpu: 1000 }));
    rec.record(j.cancelled('r5', 40));
    rec.record([...j.ended('r1', 50, 'released'), ...j.granted('r3', 50)]);
    rec.record([...j.ended('r2', 300, 'expired'), ...j.ended('r3', 300, 'released'), ...j.granted('r4', 300, [0, 1])]);
    rec.record(j.ended('r4', 400, 'preempted'));

    const p = row(rec.snapshot(400), 'fair_sharing');
    expect(p).toEqual({
      strategy: 'fair_sharing',
      activeMs: 400,
      requests: 5,
      granted: 4,
      cancelled: 1,
      failed: 2,
      // 4 ÷ (4 + 1 cancelled + 0 starved still waiting)
      successRate: 0.8,
      // waits 0, 0, 40, 280: nearest rank p50 = 2nd = 0, p95 = 4th = 280
      waitMs: { mean: 80, p50: 0, p95: 280 },
      // GPUs held: 2 on [0, 300), 2 on [300, 400) of 4
      utilisation: 0.5,
      // a: 1·50 + 1·250 = 300, b: 1·300 + 2·100 = 500 GPU-ms; c asked for no GPU → (800)² ÷ (2·(300² + 500²)) = 16/17
      jain: 16 / 17,
      preemptions: 1,
      suspensions: 0,
      // r4 waited 280 > 100
      starved: 1,
    });
    expect(rec.current).toBe('fair_sharing');
  });

  it('a request still waiting past starvationMs is starved (strictly longer) and lowers the success rate', () => {
    const j = jobs();
    const rec = recorder({ capacity: 1, starvationMs: 100 });
    rec.record(j.queued('r1', 'a', 0));
    const at = (now: number) => row(rec.snapshot(now), 'fair_sharing');
    expect(at(50)).toMatchObject({ requests: 1, starved: 0, successRate: null, waitMs: { mean: null, p50: null, p95: null } });
    expect(at(100)).toMatchObject({ starved: 0, successRate: null });
    expect(at(101)).toMatchObject({ starved: 1, successRate: 0 });
    // snapshots change nothing: a change at 60 still comes before the starvation moment
    rec.record(j.submitGranted('r2', 'b', 60));
    expect(at(100)).toMatchObject({ starved: 0, granted: 1, successRate: 1 });
    rec.record(j.submitGranted('r3', 'b', 200, { cpu: 500 }));
    expect(at(200)).toMatchObject({ starved: 1, granted: 2, requests: 3, successRate: 2 / 3 });
    // granted late: still starved once, no longer "still waiting"
    rec.record(j.granted('r1', 250));
    expect(at(300)).toMatchObject({ starved: 1, granted: 3, successRate: 1, waitMs: { mean: 250 / 3, p50: 0, p95: 250 } });
  });

  it('a cancel after the starvation moment counts the request starved and cancelled', () => {
    const j = jobs();
    const rec = recorder({ starvationMs: 10 });
    rec.record(j.queued('r1', 'a', 0));
    rec.record(j.cancelled('r1', 11));
    expect(row(rec.snapshot(20), 'fair_sharing')).toMatchObject({ requests: 1, cancelled: 1, starved: 1, successRate: 0, utilisation: null, jain: null });
  });
});

describe('PerformanceRecorder: utilisation', () => {
  it('counts a fractional allocation as gpuMemMiB ÷ the GPU memory, and a suspended one as 0 while suspended', () => {
    const j = jobs();
    const rec = recorder({ capacity: 1 });
    rec.record([...j.submitGranted('f1', 'a', 0, { gpus: 1, gpuMemMiB: 4 * GiB }), ...j.submitGranted('f2', 'b', 0, { gpuMemMiB: 8 * GiB })]);
    rec.record(j.suspended('f2', 20));
    rec.record(j.resumed('f2', 60));
    rec.record([...j.ended('f1', 100, 'released'), ...j.ended('f2', 100, 'released')]);
    // a: 0.25·100 = 25, b: 0.5·(100 − 40) = 30 → 55 of 100
    const p = row(rec.snapshot(100), 'fair_sharing');
    expect(p.utilisation).toBe(0.55);
    expect(p.suspensions).toBe(1);
    expect(p.jain).toBe((55 * 55) / (2 * (25 * 25 + 30 * 30)));
  });

  it('an allocation that ends while suspended is not taken off twice', () => {
    const j = jobs();
    const rec = recorder({ capacity: 2 });
    rec.record([...j.submitGranted('w1', 'a', 0), ...j.submitGranted('w2', 'a', 0, { gpus: 1 }, [1])]);
    rec.record(j.suspended('w1', 10));
    rec.record(j.ended('w1', 20, 'expired'));
    rec.record(j.ended('w2', 40, 'released'));
    // w1: 10, w2: 40 → 50 of 2·100
    expect(row(rec.snapshot(100), 'fair_sharing')).toMatchObject({ utilisation: 0.25, failed: 1, suspensions: 1 });
  });

  it('takes GPU memory per node and GPU, or from setCapacity; capacity changes over time', () => {
    const j = jobs();
    const rec = recorder({ gpuMemoryMiB: (node, index) => (node === 'big' && index === 1 ? 32 * GiB : undefined) });
    rec.setCapacity(0, 2, 8 * GiB);
    const big = j.queued('x', 'a', 0, { gpuMemMiB: 8 * GiB });
    rec.record(big);
    rec.record(j.granted('x', 0, [1], 'big')); // 8 of 32 GiB: 0.25
    rec.record(j.submitGranted('y', 'b', 0, { gpuMemMiB: 4 * GiB })); // 4 of the default 8 GiB: 0.5
    rec.setCapacity(50, 1);
    rec.record([...j.ended('x', 100, 'released'), ...j.ended('y', 100, 'released')]);
    // 0.75 GPUs held for 100 ms; capacity 2·50 + 1·50 = 150 GPU-ms
    expect(row(rec.snapshot(100), 'fair_sharing').utilisation).toBe(75 / 150);
  });

  it('never counts more than the capacity (time-sliced replicas) and is null without GPUs', () => {
    const j = jobs();
    const rec = recorder({ capacity: 1 });
    rec.record([...j.submitGranted('s1', 'a', 0), ...j.submitGranted('s2', 'b', 0)]);
    expect(row(rec.snapshot(100), 'fair_sharing').utilisation).toBe(1);
    expect(row(recorder().snapshot(100), 'fair_sharing').utilisation).toBeNull();
  });
});

describe("PerformanceRecorder: Jain's index", () => {
  function received(alloc: Record<string, number>, opts: PerformanceRecorderOptions = {}, waitingOwners: string[] = []) {
    const j = jobs();
    const rec = recorder({ capacity: 8, ...opts });
    let i = 0;
    for (const [owner, gpus] of Object.entries(alloc)) {
      rec.record(j.submitGranted(`r${i}`, owner, 0, { gpus }, Array.from({ length: gpus }, (_, k) => k)));
      i++;
    }
    for (const owner of waitingOwners) rec.record(j.queued(`w-${owner}`, owner, 0, { gpus: 8 }));
    return rec;
  }

  it('is (Σx)² ÷ (n·Σx²) over received ÷ equal share, 2 and 3 owners', () => {
    expect(row(received({ a: 1, b: 1 }).snapshot(10), 'fair_sharing').jain).toBe(1);
    expect(row(received({ a: 3, b: 1 }).snapshot(10), 'fair_sharing').jain).toBe(16 / 20);
    // 3, 1, 2 → 36 ÷ (3·14)
    expect(row(received({ a: 3, b: 1, c: 2 }).snapshot(10), 'fair_sharing').jain).toBeCloseTo(6 / 7, 12);
    // an owner that asked and got nothing: x = 0 → 4 ÷ (3·2)
    expect(row(received({ a: 1, b: 1 }, {}, ['c']).snapshot(10), 'fair_sharing').jain).toBeCloseTo(2 / 3, 12);
  });

  it('is null with fewer than 2 owners or when nothing was delivered', () => {
    expect(row(received({ a: 2 }).snapshot(10), 'fair_sharing').jain).toBeNull();
    expect(row(received({}, {}, ['a', 'b']).snapshot(10), 'fair_sharing').jain).toBeNull();
  });

  it('weights entitlements: received in proportion to the weights is perfectly fair', () => {
    const rec = received({ a: 2, b: 1 }, { ownerWeights: { a: 2 } });
    expect(row(rec.snapshot(10), 'fair_sharing').jain).toBe(1);
    rec.setOwnerWeights({}, 1);
    expect(row(rec.snapshot(10), 'fair_sharing').jain).toBe(9 / 10);
    // a:1, b:3 weights; received 2:1 → x = 2/(3·¼) = 8/3, 1/(3·¾) = 4/9
    rec.setOwnerWeights({ b: 3 });
    const x = [8 / 3, 4 / 9];
    expect(row(rec.snapshot(10), 'fair_sharing').jain).toBeCloseTo((x[0]! + x[1]!) ** 2 / (2 * (x[0]! ** 2 + x[1]! ** 2)), 12);
  });
});

describe('PerformanceRecorder: strategy switches', () => {
  it('attributes each event, GPU-time and starvation to the strategy active when it happened', () => {
    const j = jobs();
    const rec = new PerformanceRecorder({ strategy: 'priority_based', since: 0, gpus: 2, starvationMs: 50 });
    rec.record(j.submitGranted('r1', 'a', 0));
    rec.record(j.queued('r2', 'b', 10, { gpus: 2 })); // starved at 60, under priority_based
    rec.setStrategy(100, 'fair_sharing');
    rec.record(j.switched(100, 'fair_sharing', 'priority_based')); // told twice: no-op
    rec.record([...j.ended('r1', 150, 'released'), ...j.granted('r2', 150, [0, 1])]);
    rec.record(j.ended('r2', 250, 'released'));
    const rows = rec.snapshot(300);
    expect(rows.map((r) => r.strategy)).toEqual(['priority_based', 'fair_sharing']);
    expect(row(rows, 'priority_based')).toMatchObject({
      activeMs: 100, requests: 2, granted: 1, starved: 1, successRate: 1, waitMs: { mean: 0, p50: 0, p95: 0 },
      // 1 of 2 GPUs for 100 ms; a got 100, b asked and got nothing
      utilisation: 0.5, jain: 0.5,
    });
    expect(row(rows, 'fair_sharing')).toMatchObject({
      activeMs: 200, requests: 0, granted: 1, starved: 0, successRate: 1, waitMs: { mean: 140, p50: 140, p95: 140 },
      // [100,150): 1, [150,250): 2, [250,300): 0 → 250 of 400; a 50, b 200 GPU-ms
      utilisation: 0.625, jain: 25 / 34,
    });
  });

  it('a strategy switched to by a strategy_changed change; time before any strategy counts for none', () => {
    const j = jobs();
    const rec = new PerformanceRecorder({ gpus: 1 });
    expect(rec.current).toBeNull();
    rec.record(j.submitGranted('r1', 'a', 0));
    expect(rec.snapshot(50)).toEqual([]);
    rec.record(j.switched(50, 'time_slicing', 'priority_based'));
    rec.record(j.ended('r1', 100, 'released'));
    expect(row(rec.snapshot(200), 'time_slicing')).toMatchObject({ activeMs: 150, requests: 0, granted: 0, utilisation: 50 / 150 });
    rec.setStrategy(200, 'hybrid');
    rec.setStrategy(300, 'time_slicing');
    expect(row(rec.snapshot(400), 'time_slicing').activeMs).toBe(250);
    expect(row(rec.snapshot(400), 'hybrid').activeMs).toBe(100);
  });
});

describe('PerformanceRecorder: replay figures, restore, bounds', () => {
  it('replay: job completion submit → release, makespan first submit → last end', () => {
    const j = jobs();
    const rec = recorder({ capacity: 1, replay: true });
    rec.record(j.submitGranted('r1', 'a', 0));
    rec.record(j.queued('r2', 'b', 10));
    rec.record([...j.ended('r1', 100, 'released'), ...j.granted('r2', 100)]);
    rec.record(j.ended('r2', 250, 'released'));
    const p = row(rec.snapshot(300), 'fair_sharing');
    expect(p.jctMs).toEqual({ mean: 170, p50: 100, p95: 240 });
    expect(p.makespanMs).toBe(250);
    expect(row(recorder().snapshot(0), 'fair_sharing')).not.toHaveProperty('jctMs');
  });

  it('restore books waiting requests and active allocations without counting them as submits or grants', () => {
    const j = jobs();
    j.queued('old', 'a', 0);
    j.submitGranted('held', 'b', 0, { gpus: 2 }, [0, 1]);
    const rec = recorder({ gpus: 4, starvationMs: 100 });
    rec.restore(500, { requests: [j.req('old'), j.req('held')], allocations: [j.alloc('held')] });
    rec.record(j.ended('held', 600, 'released'));
    rec.record(j.granted('old', 700));
    const p = row(rec.snapshot(1000), 'fair_sharing');
    // 2 GPUs on [500, 600), 1 on [700, 1000), of 4 GPUs over 1000 ms; 'old' starved at 500 (waiting since 0)
    expect(p).toMatchObject({ requests: 0, granted: 1, starved: 1, utilisation: 500 / 4000, waitMs: { mean: 700 } });
  });

  it('keeps at most maxSamples samples; the mean stays exact', () => {
    const s = new Samples(8, rng(7));
    for (let i = 1; i <= 10_000; i++) s.add(i);
    expect(s.count).toBe(10_000);
    expect(s.dist().mean).toBe(5000.5);
    const p50 = s.quantile(0.5)!;
    expect(Number.isInteger(p50) && p50 >= 1 && p50 <= 10_000).toBe(true);
    const exact = new Samples(100, rng(7));
    for (const v of [5, 1, 4, 2, 3]) exact.add(v);
    expect(exact.dist()).toEqual({ mean: 3, p50: 3, p95: 5 });
    expect(exact.quantile(0.2)).toBe(1);
    expect(exact.quantile(0.21)).toBe(2);
  });

  it('rejects inconsistent options, naming the values', () => {
    expect(() => new PerformanceRecorder({ strategy: 'hybrid' })).toThrow(/strategy hybrid needs since/);
    expect(() => new PerformanceRecorder({ since: 5 })).toThrow(/since \(5\) is given without a strategy/);
    expect(() => new PerformanceRecorder({ starvationMs: -1 })).toThrow(/starvationMs .* not -1/);
    expect(() => new PerformanceRecorder({ ownerWeights: { a: 0 } })).toThrow(/weight of owner a .* not 0/);
    expect(() => new PerformanceRecorder({ gpuMemoryMiB: 0 })).toThrow(/GPU memory .* not 0/);
  });

  it('records 8,152 jobs × 6 strategies in well under a second (O(1) per change)', () => {
    const random = rng(42);
    const j = jobs();
    const batches: Change[][] = [];
    let t = 0;
    for (let i = 0; i < 8152; i++) {
      t += Math.floor(random() * 1000);
      const id = `j${i}`;
      batches.push(j.queued(id, `o${i % 8}`, t));
      const grantAt = t + Math.floor(random() * 120_000);
      batches.push(j.granted(id, grantAt));
      batches.push(j.ended(id, grantAt + Math.floor(random() * 10_000), 'released'));
    }
    // in time order (a stable sort: each job's records keep theirs)
    batches.sort((a, b) => a[0]!.at - b[0]!.at);
    const last = batches[batches.length - 1]![0]!.at;
    const started = performance.now();
    for (const strategy of ['priority_based', 'fair_sharing', 'time_slicing', 'resource_pooling', 'load_balancing', 'hybrid'] as const) {
      const rec = new PerformanceRecorder({ strategy, since: 0, gpus: 32, replay: true, starvationMs: 60_000 });
      for (const b of batches) rec.record(b);
      const p = row(rec.snapshot(last), strategy);
      expect(p).toMatchObject({ requests: 8152, granted: 8152 });
      expect(p.jctMs?.mean).toBeGreaterThan(0);
    }
    const ms = performance.now() - started;
    // tens of ms here; the bound leaves room for a busy machine
    expect(ms).toBeLessThan(1000);
  });
});

describe('PerformanceRecorder on the engine', () => {
  it('reads the changes the engine emits', async () => {
    const clock = new ManualClock(0);
    let n = 0;
    const engine = new SchedulerEngine({ clock, newId: () => `id${++n}` });
    engine.onSnapshot(declaredInventory('n1', { resources: { cpu: 8000, memoryMiB: 16 * GiB, gpus: [0, 1].map((index) => ({ index, memoryMiB: 16 * GiB })) } }));
    const rec = new PerformanceRecorder({ strategy: 'priority_based', since: 0, gpus: 2, starvationMs: 1000 });
    engine.onChange((c) => rec.record(c));
    const a = engine.submit({ owner: 'a', resources: { gpus: 2 } });
    expect(engine.submit({ owner: 'b', resources: { gpuMemMiB: 4 * GiB } }).request.status).toBe('queued');
    await clock.advance(2000);
    engine.release(a.allocation!.id);
    await clock.advance(1000);
    const p = row(rec.snapshot(clock.now()), 'priority_based');
    // b waited 2000 > 1000: starved
    expect(p).toMatchObject({ requests: 2, granted: 2, starved: 1, successRate: 1, waitMs: { mean: 1000, p50: 0, p95: 2000 } });
    // 2 GPUs for 2000 ms, then 4 of 16 GiB for 1000 ms, of 2 GPUs × 3000 ms
    expect(p.utilisation).toBe((2 * 2000 + 0.25 * 1000) / 6000);
    expect(p.jain).toBe((4000 + 250) ** 2 / (2 * (4000 ** 2 + 250 ** 2)));
  });
});
