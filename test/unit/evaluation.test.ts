import { describe, expect, it } from 'vitest';
import { ManualClock } from '../../server/clock.ts';
import { SchedulerEngine } from '../../server/scheduler/engine.ts';
import { PerformanceRecorder, Samples, type PerformanceRecorderOptions } from '../../server/scheduler/evaluation.ts';
import { declaredInventory } from '../../server/scheduler/inventory.ts';
import type { Allocation, Change, Request, Resources, StrategyName } from '../../shared/scheduler.ts';
import { StrategyPerformanceSchema, type StrategyPerformance } from '../../shared/strategy.ts';
import { rng } from '../../server/rng.ts';

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
      // c asked for no GPU: owners a, b. Received a: 1·50 + 1·250 = 300, b: 1·300 + 2·100 = 500 → delivered 800.
      // Waited for: a 1 GPU × [10, 50) = 40, b 2 GPUs × [20, 300) = 560 → demand a 340, b 1060.
      // Water-filling (w = 1): a first, 340·2 = 680 ≤ 800 → a capped at 340; λ = 800 − 340 = 460 < 1060.
      // Entitled a 340, b 460 → x = 300/340 = 15/17, 500/460 = 25/23:
      // (15/17 + 25/23)² ÷ (2·((15/17)² + (25/23)²)) = (770/391)² ÷ (2·299650/391²) = 592900 ÷ 599300 = 5929/5993
      jain: expect.closeTo(5929 / 5993, 12),
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
    // nobody waited: demand = received (a 25, b 30), delivered 55 = Σ demand → entitled = demand, x = 1, 1
    expect(p.jain).toBe(1);
  });

  it('counts a fractional request waiting as its share of a GPU (demand for the fairness index)', () => {
    const j = jobs();
    const rec = recorder({ capacity: 1 });
    rec.record([...j.submitGranted('f1', 'a', 0, { gpuMemMiB: 4 * GiB }), ...j.submitGranted('f2', 'b', 0, { gpuMemMiB: 8 * GiB })]);
    rec.record(j.queued('f3', 'c', 0, { gpuMemMiB: 8 * GiB }));
    // f2 suspended for c's f3 on [20, 60)
    rec.record([...j.suspended('f2', 20), ...j.granted('f3', 20)]);
    rec.record([...j.ended('f3', 60, 'released'), ...j.resumed('f2', 60)]);
    rec.record([...j.ended('f1', 100, 'released'), ...j.ended('f2', 100, 'released')]);
    const p = row(rec.snapshot(100), 'fair_sharing');
    // held: 0.25 + 0.5 throughout (b's or c's half) → 75 of 100
    expect(p.utilisation).toBe(0.75);
    // received a 0.25·100 = 25, b 0.5·(20 + 40) = 30, c 0.5·40 = 20 → delivered 75; c waited 0.5 GPU × [0, 20) = 10
    // → demand a 25, b 30, c 30. Water-filling (w = 1), by demand: a 25·3 = 75 ≤ 75 → capped, left 50 for b, c;
    // b 30·2 = 60 > 50 → λ = 50/2 = 25. Entitled a 25, b 25, c 25 → x = 1, 6/5, 4/5:
    // 3² ÷ (3·(1 + 36/25 + 16/25)) = 9 ÷ (3·77/25) = 75/77
    expect(p.jain).toBeCloseTo(75 / 77, 12);
    // c weighted 2: demand ÷ w a 25, b 30, c 15, Σw = 4. c 15·4 = 60 ≤ 75 → capped at 30, left 45 for a, b (Σw 2);
    // a 25·2 = 50 > 45 → λ = 22.5. Entitled a 22.5, b 22.5, c 30 → x = 10/9, 4/3, 2/3:
    // (28/9)² ÷ (3·(100 + 144 + 36)/81) = 784 ÷ 840 = 14/15
    rec.setOwnerWeights({ c: 2 });
    expect(row(rec.snapshot(100), 'fair_sharing').jain).toBeCloseTo(14 / 15, 12);
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
  /** `alloc` owners granted their GPUs at 0; `waiting` owners ask at 0 for that many more GPUs and wait */
  function received(alloc: Record<string, number>, opts: PerformanceRecorderOptions = {}, waiting: Record<string, number> = {}) {
    const j = jobs();
    const rec = recorder({ capacity: 8, ...opts });
    let i = 0;
    for (const [owner, gpus] of Object.entries(alloc)) {
      rec.record(j.submitGranted(`r${i}`, owner, 0, { gpus }, Array.from({ length: gpus }, (_, k) => k)));
      i++;
    }
    for (const [owner, gpus] of Object.entries(waiting)) rec.record(j.queued(`w-${owner}`, owner, 0, { gpus }));
    return rec;
  }
  const jainAt = (rec: PerformanceRecorder, now = 10) => row(rec.snapshot(now), 'fair_sharing').jain;

  it('is 1 when every owner got all it asked for, whatever the amounts', () => {
    // nobody waited: demand = received, delivered = Σ demand → λ = ∞, entitled = demand, every x = 1
    expect(jainAt(received({ a: 1, b: 1 }))).toBe(1);
    expect(jainAt(received({ a: 3, b: 1 }))).toBe(1);
    expect(jainAt(received({ a: 3, b: 1, c: 2 }))).toBe(1);
  });

  it('is (Σx)² ÷ (n·Σx²) over received ÷ max-min fair share capped by demand, 2 and 3 owners', () => {
    // b holds 1 and waits for 2 more while a holds 3, at 10: received a 30, b 10 (delivered 40); b waited 2·10 = 20
    // → demand a 30, b 30. a 30·2 = 60 > 40 → λ = 40/2 = 20; entitled 20, 20 → x = 3/2, 1/2: 2² ÷ (2·5/2) = 4/5
    expect(jainAt(received({ a: 3, b: 1 }, {}, { b: 2 }))).toBe(4 / 5);
    // c asks for 8 and gets nothing: received a 10, b 10, c 0 (delivered 20), demand a 10, b 10, c 80.
    // a 10·3 = 30 > 20 → λ = 20/3 for all; x = 3/2, 3/2, 0: 3² ÷ (3·9/2) = 2/3
    expect(jainAt(received({ a: 1, b: 1 }, {}, { c: 8 }))).toBeCloseTo(2 / 3, 12);
    // c asks for 1 and gets nothing: received a 30, b 10, c 0 (delivered 40), demand a 30, b 10, c 10.
    // By demand b, c, a: b 10·3 = 30 ≤ 40 → capped, left 30; c 10·2 = 20 ≤ 30 → capped, left 20; a 30 > 20 → λ = 20.
    // Entitled a 20, b 10, c 10 → x = 3/2, 1, 0: (5/2)² ÷ (3·13/4) = 25/39 — b got all it asked (x = 1), a more
    // than its share while c waited
    expect(jainAt(received({ a: 3, b: 1 }, {}, { c: 1 }))).toBeCloseTo(25 / 39, 12);
  });

  it('is null with fewer than 2 owners or when nothing was delivered', () => {
    expect(jainAt(received({ a: 2 }))).toBeNull();
    // a waits alongside: 2 owners, but delivered 0
    expect(jainAt(received({}, {}, { a: 1, b: 1 }))).toBeNull();
    // a received 2·10 = 20; b asked at 10 and has waited 0 ms so far (demand 0): 1 owner with a demand → null;
    // at 20: demand a 40, b 1·10 = 10 → b capped at 10, λ = 30 for a → x = 4/3, 0 → 1/2
    const j = jobs();
    const rec = recorder({ capacity: 8 });
    rec.record(j.submitGranted('r0', 'a', 0, { gpus: 2 }, [0, 1]));
    rec.record(j.queued('r1', 'b', 10));
    expect(jainAt(rec, 10)).toBeNull();
    expect(jainAt(rec, 20)).toBe(0.5);
  });

  it('weights entitlements: received in proportion to the weights is perfectly fair', () => {
    // at 10: a holds 2, b holds 1 and waits for 3 more → received a 20, b 10 (delivered 30); b waited 3·10 = 30
    // → demand a 20, b 40
    const rec = received({ a: 2, b: 1 }, { ownerWeights: { a: 2 } }, { b: 3 });
    // w a 2, b 1: demand ÷ w a 10, b 40; a 10·3 = 30 ≤ 30 → capped at 20, left 10 for b (w 1) → λ = 10.
    // Entitled a 20, b 10 → x = 1, 1
    expect(jainAt(rec)).toBe(1);
    // equal weights: a 20·2 = 40 > 30 → λ = 15; entitled 15, 15 → x = 4/3, 2/3: 2² ÷ (2·20/9) = 9/10
    rec.setOwnerWeights({}, 1);
    expect(jainAt(rec)).toBeCloseTo(9 / 10, 12);
    // w a 1, b 3: demand ÷ w a 20, b 40/3; b first, (40/3)·4 > 30 → λ = 30/4 = 7.5; entitled a 7.5, b 22.5
    // → x = 8/3, 4/9: (28/9)² ÷ (2·(64/9 + 16/81)) = 784 ÷ 1184 = 49/74
    rec.setOwnerWeights({ b: 3 });
    expect(jainAt(rec)).toBeCloseTo(49 / 74, 12);
    // w a 1.5, b 1: demand ÷ w a 40/3, b 40; a (40/3)·2.5 > 30 → λ = 30/2.5 = 12; entitled a 18, b 12
    // → x = 10/9, 5/6: (35/18)² ÷ (2·625/324) = 1225 ÷ 1250 = 49/50
    rec.setOwnerWeights({ a: 1.5 });
    expect(jainAt(rec)).toBeCloseTo(49 / 50, 12);
    // w a 3: demand ÷ w a 20/3, b 40; a (20/3)·4 = 80/3 ≤ 30 → capped at its demand 20, left 10 → λ = 10; x = 1, 1.
    // A weight above what the owner asked for changes nothing
    rec.setOwnerWeights({ a: 3 });
    expect(jainAt(rec)).toBe(1);
    // nobody waiting: 1 whatever the weights
    expect(jainAt(received({ a: 2, b: 1 }, { ownerWeights: { b: 3 } }))).toBe(1);
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
      // [100,150): 1, [150,250): 2, [250,300): 0 → 250 of 400. Received a 50, b 200 (delivered 250); b waited
      // 2 × [100, 150) = 100 → demand a 50, b 300. a 50·2 = 100 ≤ 250 → capped, λ = 200 for b → x = 1, 1
      utilisation: 0.625, jain: 1,
    });
    // priority_based: received a 100, b 0 (delivered 100); b waited 2 × [10, 100) = 180 → demand a 100, b 180.
    // a 100·2 = 200 > 100 → λ = 50; entitled 50, 50 → x = 2, 0: 2² ÷ (2·4) = 1/2 (as above)
  });

  it('splits a wait that spans a switch between the strategies', () => {
    const j = jobs();
    const rec = new PerformanceRecorder({ strategy: 'priority_based', since: 0, gpus: 3 });
    rec.record(j.submitGranted('r1', 'a', 0, { gpus: 2 }, [0, 1]));
    rec.record(j.queued('r2', 'b', 10));
    rec.setStrategy(100, 'fair_sharing');
    rec.record(j.granted('r2', 150, [2]));
    rec.record(j.ended('r2', 200, 'released'));
    const rows = rec.snapshot(300);
    // priority_based: received a 2·100 = 200, b 0; b waited 1 × [10, 100) = 90 → demand a 200, b 90.
    // b 90·2 = 180 ≤ 200 → capped at 90, λ = 110 for a → x = 20/11, 0: one x is 0 of 2 → 1/2
    expect(row(rows, 'priority_based').jain).toBe(0.5);
    // fair_sharing: received a 2·200 = 400, b 50 (delivered 450); b waited 1 × [100, 150) = 50 (not the 90 before
    // the switch) → demand a 400, b 100. b 100·2 = 200 ≤ 450 → capped at 100, λ = 350 for a.
    // x = 400/350 = 8/7, 50/100 = 1/2: (23/14)² ÷ (2·(64/49 + 1/4)) = 529/196 ÷ (2·305/196) = 529/610
    expect(row(rows, 'fair_sharing').jain).toBeCloseTo(529 / 610, 12);
    // a weighted 8: fair_sharing demand ÷ w a 50, b 100; a 50·9 = 450 ≤ 450 → capped at 400, left 50 → λ = 50,
    // b entitled 50 → x = 1, 1. priority_based: demand ÷ w a 25, b 90; a 25·9 = 225 > 200 → λ = 200/9, entitled
    // a 1600/9, b 200/9 → x = 9/8, 0 → 1/2
    rec.setOwnerWeights({ a: 8 });
    const weighted = rec.snapshot(300);
    expect(row(weighted, 'fair_sharing').jain).toBe(1);
    expect(row(weighted, 'priority_based').jain).toBe(0.5);
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

  it('records 8,152 jobs × 6 strategies (the trace\'s size) with every job counted', () => {
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
    for (const strategy of ['priority_based', 'fair_sharing', 'time_slicing', 'resource_pooling', 'load_balancing', 'hybrid'] as const) {
      const rec = new PerformanceRecorder({ strategy, since: 0, gpus: 32, replay: true, starvationMs: 60_000 });
      for (const b of batches) rec.record(b);
      const p = row(rec.snapshot(last), strategy);
      expect(p).toMatchObject({ requests: 8152, granted: 8152 });
      expect(p.jctMs?.mean).toBeGreaterThan(0);
    }
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
    // received a 2·2000 = 4000, b 0.25·1000 = 250 (delivered 4250); b waited 0.25 × [0, 2000) = 500
    // → demand a 4000, b 750. b 750·2 = 1500 ≤ 4250 → capped at 750, λ = 3500 for a.
    // x = 4000/3500 = 8/7, 250/750 = 1/3: (31/21)² ÷ (2·625/441) = 961/1250
    expect(p.jain).toBeCloseTo(961 / 1250, 12);
    // a weighted 5: demand ÷ w a 800, b 750, Σw 6; b 750·6 = 4500 > 4250 → λ = 4250/6, neither capped: entitled
    // a 5·4250/6, b 4250/6 → x = 96/85, 6/17 = 30/85: (126/85)² ÷ (2·(96² + 30²)/85²) = 15876 ÷ 20232 = 441/562
    rec.setOwnerWeights({ a: 5 });
    expect(row(rec.snapshot(clock.now()), 'priority_based').jain).toBeCloseTo(441 / 562, 12);
  });
});
