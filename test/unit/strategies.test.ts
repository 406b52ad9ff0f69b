/**
 * The six strategies through the engine, on small hand-computed scenarios: who is granted, on which node and GPUs,
 * who is preempted, suspended or resumed and when, and how each waiting request's conflict is resolved. Every
 * expected figure is computed in the comment above its assertion. Times are seconds after the clock's start (T0);
 * ids are fixed (see test/helpers/cluster.ts).
 */
import { describe, expect, it } from 'vitest';
import { createStrategy } from '../../server/scheduler/strategies/index.ts';
import type { Inventory } from '../../server/scheduler/inventory.ts';
import { GiB, HOUR, MIN, gpuNode, sim, type Body, type Sim } from '../helpers/cluster.ts';

const gpu = (owner: string, n = 1, extra: Partial<Body> = {}): Body => ({ owner, resources: { gpus: n }, ...extra });
const grantsIn = (log: string[]): string[] => log.filter((l) => l.startsWith('granted'));

// ====================================================================== priority_based

describe('priority_based: Slurm multifactor order', () => {
  it('age factor: min(1, wait / maxAge) lets an old request overtake a newer one of higher priority only once it has aged', async () => {
    // weights age 1000, priority 10000, scale 1000, maxAge 100 s
    //   old (priority 0):   1000·min(1, wait/100 s) + 10000·(0.5 + 0/2000)   = 1000·age + 5000
    //   new (priority 150): 1000·min(1, wait/100 s) + 10000·(0.5 + 150/2000) = 1000·age + 5750
    const run = async (newAt: number, releaseAt: number) => {
      const s = sim({ strategy: createStrategy('priority_based', { maxAgeMs: 100_000 }), nodes: [gpuNode('n1', 1)] });
      s.submit('hold', gpu('h'));
      s.submit('old', gpu('o'));
      await s.at(newAt);
      s.submit('new', gpu('n', 1, { priority: 150 }));
      await s.at(releaseAt);
      return grantsIn(s.release('hold'));
    };
    // new at 20 s, decided at 20 s: old 1000·0.2 + 5000 = 5200 < new 0 + 5750 = 5750
    expect(await run(20, 20)).toEqual(['granted new n1[0]']);
    // new at 90 s, decided at 100 s: old 1000·1 + 5000 = 6000 > new 1000·0.1 + 5750 = 5850
    expect(await run(90, 100)).toEqual(['granted old n1[0]']);
  });

  it('priority factor is normalised and clamped: priorities 1000 and 5000 tie at 1 (then submit time), 999 is just below', async () => {
    // weights age 0, priority 10000, scale 1000: clamp(0.5 + p/2000, 0, 1)
    //   x (999, t 0 s) 0.9995 → 9995;  a (1000, t 1 s) 1 → 10000;  b (5000, t 2 s) clamp(3) = 1 → 10000
    // order: a (10000, earlier) > b (10000, later) > x (9995)
    const s = sim({ strategy: createStrategy('priority_based', { weights: { age: 0 } }), nodes: [gpuNode('n1', 1)] });
    s.submit('hold', gpu('h'));
    s.submit('x', gpu('x', 1, { priority: 999 }));
    await s.at(1);
    s.submit('a', gpu('a', 1, { priority: 1000 }));
    await s.at(2);
    s.submit('b', gpu('b', 1, { priority: 5000 }));
    expect(grantsIn(s.release('hold'))).toEqual(['granted a n1[0]']);
    expect(grantsIn(s.release('a'))).toEqual(['granted b n1[0]']);
    expect(grantsIn(s.release('b'))).toEqual(['granted x n1[0]']);
  });

  it('ties: equal priority goes by submit time, then by id', async () => {
    // ids count down here, so a later request has a smaller id. weights age 0: p, q, r all score 10000·0.5 = 5000.
    // p and q are submitted at 0 s (q's id < p's id): q, then p; r comes at 1 s with the smallest id, yet last.
    const s = sim({ strategy: createStrategy('priority_based', { weights: { age: 0 } }), nodes: [gpuNode('n1', 1)], ids: 'desc' });
    s.submit('hold', gpu('h'));
    s.submit('p', gpu('p'));
    s.submit('q', gpu('q'));
    await s.at(1);
    s.submit('r', gpu('r'));
    expect(s.id('q') < s.id('p') && s.id('r') < s.id('q')).toBe(true);
    expect(grantsIn(s.release('hold'))).toEqual(['granted q n1[0]']);
    expect(grantsIn(s.release('q'))).toEqual(['granted p n1[0]']);
    expect(grantsIn(s.release('p'))).toEqual(['granted r n1[0]']);
  });

  it('size factor: the dominant share of the cluster favours large requests, 1 − share with favorSmall', () => {
    // 4 GPUs; b1 holds [0,1], b2 holds [2,3]. small wants 1 GPU (share 1/4), big 2 GPUs (share 2/4).
    // weights age 0, priority 0, size 1000:  big 1000·0.5 = 500 > small 1000·0.25 = 250
    // favorSmall:                            small 1000·0.75 = 750 > big 1000·0.5 = 500
    // releasing b1 frees 2 GPUs: the first in order is granted; with favorSmall, big no longer fits next to small.
    const run = (favorSmall: boolean) => {
      const s = sim({ strategy: createStrategy('priority_based', { weights: { age: 0, priority: 0, size: 1000 }, favorSmall }), nodes: [gpuNode('n1', 4)] });
      s.submit('b1', gpu('b', 2));
      s.submit('b2', gpu('b', 2));
      s.submit('small', gpu('s', 1));
      s.submit('big', gpu('g', 2));
      return grantsIn(s.release('b1'));
    };
    expect(run(false)).toEqual(['granted big n1[0,1]']);
    expect(run(true)).toEqual(['granted small n1[0]']);
  });

  it('fair-share factor when enabled: 2^(−U/S) puts an owner with no usage before a heavy user that asked first', async () => {
    // 2 GPUs: heavy holds GPU 0 (hv), z holds GPU 1 (zb), both from 0 s. H (heavy) asks at 1 s, L (light) at 2 s.
    // At 3 s zb is released: one GPU for H or L.
    // fairShare 1000 only: owners known heavy, z (+ light, unknown): weights 3, S = 1/3 each.
    //   u_heavy = 1 + hist ≈ 1.0006, u_z = hist ≈ 1·(1 − 2^(−3 s/1 h)) ≈ 0.0006 → U_heavy ≈ 0.9994
    //   H: 1000·2^(−0.9994·3) ≈ 125;  L: U = 0 → 1000·2^0 = 1000  → L first.
    // Default weights (fairShare 0): H 5000 + 1000·2 s/7 d > L 5000 + 1000·1 s/7 d → H first.
    const run = async (config: object) => {
      const s = sim({ strategy: createStrategy('priority_based', config), nodes: [gpuNode('n1', 2)] });
      s.submit('hv', gpu('heavy'));
      s.submit('zb', gpu('z'));
      await s.at(1);
      s.submit('H', gpu('heavy'));
      await s.at(2);
      s.submit('L', gpu('light'));
      await s.at(3);
      return grantsIn(s.release('zb'));
    };
    expect(await run({ weights: { age: 0, priority: 0, fairShare: 1000 } })).toEqual(['granted L n1[1]']);
    expect(await run({})).toEqual(['granted H n1[1]']);
  });
});

describe('priority_based: kube-scheduler preemption', () => {
  /** 2 GPUs: eq (priority 5, preemptible) on GPU 0, np (priority 1, not preemptible) on GPU 1. */
  function twoHolders(config: object = {}) {
    const s = sim({ strategy: createStrategy('priority_based', config), nodes: [gpuNode('n1', 2)] });
    s.submit('eq', gpu('e', 1, { priority: 5, preemptible: true }));
    s.submit('np', gpu('n', 1, { priority: 1 }));
    return s;
  }

  it('only strictly lower-priority preemptible holders are victims: none for an equal priority', async () => {
    // r5 (priority 5): eq has the same priority (not lower), np is lower but not preemptible → no victims.
    const s = twoHolders();
    s.submit('r5', gpu('r', 1, { priority: 5 }));
    expect(await s.tickAt(1)).toEqual([]);
    expect(await s.tickAt(3600)).toEqual([]);
    expect(s.status('r5')).toBe('queued');
    expect(s.allocation('eq')).not.toHaveProperty('preemptAt');
  });

  it('the victim gets a notice (allocation_preempting, preemptAt = now + grace) and is preempted when the grace is over', async () => {
    // r6 (priority 6): eligible = preemptible and priority < 6 → eq only (np is not preemptible).
    // Grace 30 s (default): noticed at 1 s → preemptAt 31 s; r6 then takes eq's GPU 0.
    const s = twoHolders();
    s.submit('r6', gpu('r', 1, { priority: 6 }));
    expect(await s.tickAt(1)).toEqual(['notice eq at 31s']);
    expect(s.allocation('eq')).toMatchObject({ state: 'active', preemptedFor: s.id('r6') });
    expect(await s.tickAt(30.999)).toEqual([]);
    expect(await s.tickAt(31)).toEqual(['preempted eq', 'granted r6 n1[0]', 'resolved r6 preempted_holder']);
    expect([s.status('eq'), s.status('np'), s.status('r6')]).toEqual(['preempted', 'granted', 'granted']);
  });

  it('a higher-priority request arriving while nothing changes is noticed at the next tick', async () => {
    // r5 waits (no victims, see above) and its pass has run; then r6 (priority 6) arrives. Nothing else changes,
    // yet r6 is a scheduling failure with a lower-priority preemptible holder in the way: eq gets its notice at the
    // next tick (2 s), preemptAt 32 s.
    const s = twoHolders();
    s.submit('r5', gpu('r', 1, { priority: 5 }));
    expect(await s.tickAt(1)).toEqual([]);
    s.submit('r6', gpu('r', 1, { priority: 6 }));
    expect(await s.tickAt(2)).toEqual(['notice eq at 32s']);
  });

  it('grace 0: the victim is preempted at once and the request placed in the same pass', async () => {
    const s = twoHolders({ preemption: { gracePeriodMs: 0 } });
    s.submit('r6', gpu('r', 1, { priority: 6 }));
    expect(await s.tickAt(1)).toEqual(['preempted eq', 'granted r6 n1[0]', 'resolved r6 preempted_holder']);
  });

  it('victims: every lower one removed, then re-added from the highest priority down while it still fits', async () => {
    // 4 GPUs: v1 (prio 1) [0], v2 (prio 2) [1,2], v3 (prio 3) [3]; all preemptible. R (prio 10) wants 2 GPUs.
    // Remove v1, v2, v3: 4 free. Re-add v3: 3 free ≥ 2 → reprieved. Re-add v2: 1 free → needed, victim.
    // Re-add v1: 2 free (v2's) → reprieved. Victims: [v2] — not the lowest-priority v1.
    const s = sim({ strategy: createStrategy('priority_based', { preemption: { gracePeriodMs: 0 } }), nodes: [gpuNode('n1', 4)] });
    s.submit('v1', gpu('a', 1, { priority: 1, preemptible: true }));
    s.submit('v2', gpu('b', 2, { priority: 2, preemptible: true }));
    s.submit('v3', gpu('c', 1, { priority: 3, preemptible: true }));
    s.submit('R', gpu('r', 2, { priority: 10 }));
    expect(await s.tickAt(1)).toEqual(['preempted v2', 'granted R n1[1,2]', 'resolved R preempted_holder']);
    expect(s.names('granted').sort()).toEqual(['R', 'v1', 'v3']);
  });

  it('victims: with equal-size holders the lowest priorities go (v1, v2), the higher ones are reprieved', async () => {
    // 4 GPUs, one holder each: v1..v4 with priorities 1..4. R (prio 10) wants 2.
    // Remove all (4 free); re-add v4 (3 free), v3 (2 free) → reprieved; v2 (1 free) and v1 → victims.
    const s = sim({ strategy: createStrategy('priority_based', { preemption: { gracePeriodMs: 0 } }), nodes: [gpuNode('n1', 4)] });
    for (let p = 1; p <= 4; p++) s.submit(`v${p}`, gpu(`o${p}`, 1, { priority: p, preemptible: true }));
    s.submit('R', gpu('r', 2, { priority: 10 }));
    expect(await s.tickAt(1)).toEqual(['preempted v1', 'preempted v2', 'granted R n1[0,1]', 'resolved R preempted_holder']);
  });

  describe('choice among nodes', () => {
    const twoNodes = () => sim({ strategy: createStrategy('priority_based', { preemption: { gracePeriodMs: 0 } }), nodes: [gpuNode('n1', 2), gpuNode('n2', 2)] });

    it('the node whose highest victim has the lowest priority, even with more victims', async () => {
      // first fit: a (prio 3, 2 GPUs) → n1[0,1]; b1 (prio 1) → n2[0]; b2 (prio 2) → n2[1]. R (prio 10) wants 2.
      // n1: victims {a}, highest 3. n2: victims {b1, b2}, highest 2 → n2 (2 < 3 decides before the count).
      const s = twoNodes();
      s.submit('a', gpu('a', 2, { priority: 3, preemptible: true }));
      s.submit('b1', gpu('b', 1, { priority: 1, preemptible: true }));
      s.submit('b2', gpu('b', 1, { priority: 2, preemptible: true }));
      expect([s.where('a'), s.where('b1'), s.where('b2')]).toEqual(['n1[0,1]', 'n2[0]', 'n2[1]']);
      s.submit('R', gpu('r', 2, { priority: 10 }));
      expect(await s.tickAt(1)).toEqual(['preempted b1', 'preempted b2', 'granted R n2[0,1]', 'resolved R preempted_holder']);
    });

    it('at equal highest priority, the node with fewer victims, even when its victims started earlier', async () => {
      // x fills n1 at 0 s so that b (prio 2, 2 GPUs) lands on n2 at 0 s; x goes; a1, a2 (prio 2) take n1 at 10 s.
      // n1: victims {a1, a2} (highest 2, 2 victims, started 10 s); n2: {b} (highest 2, 1 victim, started 0 s) → n2.
      const s = twoNodes();
      s.submit('x', gpu('x', 2));
      s.submit('b', gpu('b', 2, { priority: 2, preemptible: true }));
      s.release('x');
      await s.at(10);
      s.submit('a1', gpu('a', 1, { priority: 2, preemptible: true }));
      s.submit('a2', gpu('a', 1, { priority: 2, preemptible: true }));
      expect([s.where('a1'), s.where('a2'), s.where('b')]).toEqual(['n1[0]', 'n1[1]', 'n2[0,1]']);
      s.submit('R', gpu('r', 2, { priority: 10 }));
      expect(await s.tickAt(11)).toEqual(['preempted b', 'granted R n2[0,1]', 'resolved R preempted_holder']);
    });

    it('at equal highest priority and count, the node whose victims started latest (not the node order)', async () => {
      // b (prio 2, 2 GPUs) on n2 from 0 s; a (prio 2, 2 GPUs) on n1 from 10 s → a started later → n1.
      const s = twoNodes();
      s.submit('x', gpu('x', 2));
      s.submit('b', gpu('b', 2, { priority: 2, preemptible: true }));
      s.release('x');
      await s.at(10);
      s.submit('a', gpu('a', 2, { priority: 2, preemptible: true }));
      expect([s.where('a'), s.where('b')]).toEqual(['n1[0,1]', 'n2[0,1]']);
      s.submit('R', gpu('r', 2, { priority: 10 }));
      expect(await s.tickAt(11)).toEqual(['preempted a', 'granted R n1[0,1]', 'resolved R preempted_holder']);
    });
  });

  describe('the notice is withdrawn (allocation_renewed without preemptAt)', () => {
    /** 2 GPUs: low (prio 0, preemptible) [0], other (prio 0) [1]; R (prio 5) noticed low at 1 s (preemptAt 31 s). */
    async function noticed() {
      const s = sim({ strategy: createStrategy('priority_based'), nodes: [gpuNode('n1', 2)] });
      s.submit('low', gpu('l', 1, { preemptible: true }));
      s.submit('other', gpu('o'));
      s.submit('R', gpu('r', 1, { priority: 5 }));
      expect(await s.tickAt(1)).toEqual(['notice low at 31s']);
      return s;
    }

    it('when the request gets resources otherwise: granted on the freed GPU, the victim keeps its own, resolution granted', async () => {
      // at 10 s other is released: R fits on GPU 1 → granted there; low's notice is withdrawn. No holder was
      // preempted for R, so its conflict is resolved `granted` (preempted_holder: "a holder was preempted for it").
      const s = await noticed();
      await s.at(10);
      expect(s.release('other')).toEqual(['released other', 'granted R n1[1]', 'withdrawn low', 'resolved R granted']);
      expect(s.allocation('low')).not.toHaveProperty('preemptAt');
      // the old deadline passes: nothing happens
      expect(await s.tickAt(31)).toEqual([]);
      expect(s.status('low')).toBe('granted');
    });

    it('when the request is cancelled', async () => {
      const s = await noticed();
      await s.at(10);
      expect(s.step(() => s.engine.cancel(s.id('R')))).toEqual(['resolved R cancelled', 'withdrawn low', 'cancelled R']);
      expect(await s.tickAt(31)).toEqual([]);
      expect(s.allocation('low')).toMatchObject({ state: 'active' });
      expect(s.allocation('low')).not.toHaveProperty('preemptAt');
    });
  });
});

// ====================================================================== fair_sharing

describe('fair_sharing: DRF', () => {
  it('the lowest dominant share goes next whose request fits (the DRF paper example: 9 CPUs, 18 GiB)', () => {
    // A tasks <1 cpu, 4 GiB> (dominant: memory), B tasks <3 cpu, 1 GiB> (dominant: cpu); z blocks all 9 cores.
    // Releasing z, step by step (share = max(cpu/9, mem/18)); ties by key (owner:A < owner:B):
    //   A 0 = B 0 → A1: A <1,4> .222 | B 0 → B1: B <3,1> .333 | A .222 → A2: A <2,8> .444
    //   B .333 → B2: B <6,2> .667 | A .444 → A3: A <3,12> .667 | A .667 (tie, key) → A4 needs cpu 10 > 9: no;
    //   B3 needs cpu 12 > 9: no. Result A 3 tasks, B 2 tasks: both at 2/3 (the DRF allocation).
    const s = sim({ strategy: createStrategy('fair_sharing'), nodes: [gpuNode('n1', 0, { cpu: 9000, memoryMiB: 18 * GiB })] });
    s.submit('z', { owner: 'z', resources: { cpu: 9000 } });
    for (let i = 1; i <= 4; i++) {
      s.submit(`A${i}`, { owner: 'A', resources: { cpu: 1000, memoryMiB: 4 * GiB } });
      s.submit(`B${i}`, { owner: 'B', resources: { cpu: 3000, memoryMiB: 1 * GiB } });
    }
    expect(grantsIn(s.release('z'))).toEqual(['granted A1 n1[]', 'granted B1 n1[]', 'granted A2 n1[]', 'granted B2 n1[]', 'granted A3 n1[]']);
    expect(s.engine.free()).toMatchObject({ cpu: 0, memoryMiB: 18 * GiB - 14 * GiB });
  });

  it('per group when requests name one; within a group, owners by their own shares at the start of the pass', () => {
    // 4 GPUs: a0 (a, group g1) [0]; z (no group) [1,2,3]. Waiting: a1, a2 (a, g1), b1, b2 (b, g1), c1, c2 (c, g2).
    // z released: 3 GPUs. group:g1 = 1/4 = .25 (a0), group:g2 = 0 → g2: c1 → g2 .25.
    // Tie .25/.25 → group:g1 (key): its owners' shares at the start: a .25, b 0 → b1 → g1 .5.
    // g2 .25 → c2. Full. a (already holding) gets nothing; first fit: c1 [1], b1 [2], c2 [3].
    const s = sim({ strategy: createStrategy('fair_sharing'), nodes: [gpuNode('n1', 4)] });
    s.submit('a0', gpu('a', 1, { group: 'g1' }));
    s.submit('z', gpu('z', 3));
    for (const [name, owner, group] of [['a1', 'a', 'g1'], ['a2', 'a', 'g1'], ['b1', 'b', 'g1'], ['b2', 'b', 'g1'], ['c1', 'c', 'g2'], ['c2', 'c', 'g2']] as const) {
      s.submit(name, gpu(owner, 1, { group }));
    }
    expect(grantsIn(s.release('z'))).toEqual(['granted c1 n1[1]', 'granted b1 n1[2]', 'granted c2 n1[3]']);
  });

  it.each([
    // k = 2^(−(T − 1 h)/1 h); x's usage 2k (4 GPUs for one half-life, then released), y's 1 + (1 − k) (holds 1 since 1 h)
    // 1 h 30 min: k = 2^(−0.5) = .7071 → x 1.414 (share .354) > y 1.293 (.323) → y
    // 1 h 40 min: k = 2^(−2/3) = .6300 → x 1.260 (share .315) < y 1.370 (.343) → x
    { at: 90 * 60, winner: 'yr' },
    { at: 100 * 60, winner: 'xr' },
  ])('usage decays with the half-life (1 h): at $at s the free GPU goes to $winner', async ({ at, winner }) => {
    // 4 GPUs. 0 s: x0 (x, 4 GPUs); y0 (y, 1) and z1..z3 (z, 1 each) wait. 1 h: x0 released → y0 [0] (owner:y < owner:z
    // at 0/0), z1 [1], z2 [2], z3 [3]. Then xr (x) and yr (y) ask for 1 GPU each; at `at` z1 is released.
    // x asked first, and owner:x sorts first: only the decayed usage can put y ahead.
    const s = sim({ strategy: createStrategy('fair_sharing'), nodes: [gpuNode('n1', 4)] });
    s.submit('x0', gpu('x', 4));
    s.submit('y0', gpu('y'));
    for (const n of ['z1', 'z2', 'z3']) s.submit(n, gpu('z'));
    await s.at(3600);
    expect(grantsIn(s.release('x0'))).toEqual(['granted y0 n1[0]', 'granted z1 n1[1]', 'granted z2 n1[2]', 'granted z3 n1[3]']);
    s.submit('xr', gpu('x'));
    s.submit('yr', gpu('y'));
    await s.at(at);
    expect(grantsIn(s.release('z1'))).toEqual([`granted ${winner} n1[1]`]);
  });

  it('per-owner weights 2:1: the first pass grants 4:2 on 6 GPUs', () => {
    // share = GPUs/6 ÷ weight (p 2, q 1); ties by key (owner:p first):
    //   p 0 = q 0 → p (1/12) | q 0 → q (1/6) | p 1/12 → p (2/12) | tie 1/6 → p (3/12) | q 1/6 → q (2/6) | p 3/12 → p (4/12)
    //   → order p q p p q p: p 4, q 2.
    const s = sim({ strategy: createStrategy('fair_sharing', { ownerWeights: { p: 2 } }), nodes: [gpuNode('n1', 6)] });
    s.submit('z', gpu('z', 6));
    for (let i = 1; i <= 6; i++) {
      s.submit(`p${i}`, gpu('p'));
      s.submit(`q${i}`, gpu('q'));
    }
    expect(grantsIn(s.release('z'))).toEqual(['granted p1 n1[0]', 'granted q1 n1[1]', 'granted p2 n1[2]', 'granted p3 n1[3]', 'granted q2 n1[4]', 'granted p4 n1[5]']);
  });

  it('per-owner weights 2:1: with a backlog from both, the grants converge to 2:1 from an unfair start', async () => {
    // 6 GPUs; q alone holds all 6 at first (p has nothing queued); p's backlog arrives at 10 min. Every job runs 30 min;
    // each owner keeps 4 waiting. DRF with weights equalises u_p/2 = u_q (u = held + decayed history), so over time
    // u_p = 2·u_q: the GPU time, and the grants (equal-length jobs), go 2:1 — on 6 GPUs, p 4 and q 2.
    // Measured over the second half (6–12 h).
    const s = sim({ strategy: createStrategy('fair_sharing', { ownerWeights: { p: 2 } }), nodes: [gpuNode('n1', 6)] });
    let seq = 0;
    const topUp = (owner: string, waiting: number) => {
      const queued = s.engine.listRequests('queued').filter((r) => r.owner === owner).length;
      for (let i = queued; i < waiting; i++) s.submit(`${owner}${++seq}`, gpu(owner));
    };
    const granted = { p: 0, q: 0 };
    const gpuMinutes = { p: 0, q: 0 };
    let measuring = false;
    s.engine.onChange((batch) => {
      for (const c of batch) if (measuring && c.kind === 'request_granted') granted[c.request.owner as 'p' | 'q']++;
    });
    topUp('q', 10);
    for (let minute = 1; minute <= 12 * 60; minute++) {
      await s.at(minute * 60);
      if (minute === 10) topUp('p', 4);
      measuring = minute > 6 * 60;
      for (const a of s.engine.listAllocations('active')) if (s.clock.now() - a.grantedAt >= 30 * MIN) s.engine.release(a.id);
      topUp('q', 4);
      if (minute >= 10) topUp('p', 4);
      s.engine.tick();
      if (measuring) for (const a of s.engine.listAllocations('active')) gpuMinutes[s.engine.request(a.requestId)!.owner as 'p' | 'q']++;
    }
    // By 6 h it has settled on the fixed point: p holds 4 GPUs, q 2, every minute of the window (6 h = 360 min):
    //   GPU-minutes p 4 × 360 = 1440, q 2 × 360 = 720; 30-min jobs: 12 per GPU in 6 h → grants p 4 × 12 = 48, q 2 × 12 = 24.
    expect(gpuMinutes).toEqual({ p: 1440, q: 720 });
    expect(granted).toEqual({ p: 48, q: 24 });
    const held = s.engine.listAllocations('active').map((a) => s.engine.request(a.requestId)!.owner).sort();
    expect(held).toEqual(['p', 'p', 'p', 'p', 'q', 'q']);
  });
});

describe('fair_sharing: YARN preemption', () => {
  /** 2 GPUs held by hog (h1 at 0 s, h2 at 1 s); s asks for one at 2 s. */
  async function starving(config: object) {
    const s = sim({ strategy: createStrategy('fair_sharing', config), nodes: [gpuNode('n1', 2)] });
    s.submit('h1', gpu('hog'));
    await s.at(1);
    s.submit('h2', gpu('hog'));
    await s.at(2);
    s.submit('S', gpu('s'));
    expect(await s.tickAt(3)).toEqual([]);
    return s;
  }

  it('is off by default: a starved owner waits, nobody is preempted', async () => {
    const s = await starving({});
    for (const t of [60, 301, 3600]) expect(await s.tickAt(t)).toEqual([]);
    expect([s.status('h1'), s.status('h2'), s.status('S')]).toEqual(['granted', 'granted', 'queued']);
  });

  it('when enabled: after starvedForMs below half its fair share, the newest holder of an owner above its share gets a notice', async () => {
    // starvedForMs 60 s, grace 10 s, threshold 0.9. Utilisation 2/2 = 1 ≥ 0.9. Owners holding or waiting: hog, s →
    // fair share 1/2 each; s holds 0 < 1/4; hog holds 2/2 = 1 > 1/2 → its holdings are candidates.
    // Victims (kube-scheduler): take h2, h1, reprieve the older h1 (h2's GPU suffices) → [h2].
    // S waited 60 s at 62 s: notice at 62 s → preemptAt 72 s; S gets h2's GPU 1.
    const s = await starving({ preemption: { enabled: true, starvedForMs: 60_000, gracePeriodMs: 10_000 } });
    expect(await s.tickAt(61.999)).toEqual([]);
    expect(await s.tickAt(62)).toEqual(['notice h2 at 72s']);
    expect(await s.tickAt(72)).toEqual(['preempted h2', 'granted S n1[1]', 'resolved S preempted_holder']);
    expect(s.status('h1')).toBe('granted');
  });

  it('when enabled: the rule applies at a decision pass (here one made by an unrelated release)', async () => {
    // Same as above, with a cpu-only holding of `other` released at 62 s to bring a pass about: hog's newest
    // holding h2 gets the notice (preemptAt 72 s).
    const s = sim({ strategy: createStrategy('fair_sharing', { preemption: { enabled: true, starvedForMs: 60_000, gracePeriodMs: 10_000 } }), nodes: [gpuNode('n1', 2)] });
    s.submit('other', { owner: 'other', resources: { cpu: 1000 } });
    s.submit('h1', gpu('hog'));
    await s.at(1);
    s.submit('h2', gpu('hog'));
    await s.at(2);
    s.submit('S', gpu('s'));
    expect(await s.tickAt(3)).toEqual([]);
    await s.at(62);
    expect(s.release('other')).toEqual(['released other', 'notice h2 at 72s']);
    expect(await s.tickAt(72)).toEqual(['preempted h2', 'granted S n1[1]', 'resolved S preempted_holder']);
  });
});

// ====================================================================== time_slicing

describe('time_slicing', () => {
  const ts = (config: object, nodes: Inventory[] = [gpuNode('n1', 1)]) => sim({ strategy: createStrategy('time_slicing', config), nodes });
  /** no anti-starvation promotion within these scenarios */
  const NO_PROMOTION = { starveMinMs: 24 * HOUR };

  it('replicas 2: two holders per GPU, placed onto the GPU with the most free slots; the next one waits', () => {
    // 2 GPUs × 2 slots. a: 2/2 free → GPU 0 (index); b: GPU 0 1, GPU 1 2 → GPU 1; c: 1/1 → GPU 0; d: GPU 1; e: no slot.
    const s = ts({ replicas: 2 }, [gpuNode('n1', 2)]);
    for (const n of ['a', 'b', 'c', 'd', 'e']) s.submit(n, gpu(n));
    expect(['a', 'b', 'c', 'd'].map((n) => s.where(n))).toEqual(['n1[0]', 'n1[1]', 'n1[0]', 'n1[1]']);
    expect(s.status('e')).toBe('queued');
  });

  it('replicas 2 on one GPU: the third rotates in at the quantum, the holder with most attained service is suspended', async () => {
    // thresholds [60 s·GPU]. a from 0 s, b from 1 s on GPU 0's two slots; c waits from 2 s.
    // 60 s: a attained 60 000 → queue 1 (rank 1e15 + 0 s); b 59 000 → queue 0 (rank 1 s); c queue 0 (rank 2 s).
    //   c outranks a → a and b give their slots back; by rank: b takes its slot back (no record), c granted GPU 0,
    //   a finds no slot → suspended.
    // 120 s: b 119 000, c 60 000, a 60 000 (suspended) → all queue 1; FIFO: a (0 s) < b (1 s) < c (2 s).
    //   a outranks c → a resumed, b keeps its slot, c suspended.
    const s = ts({ replicas: 2, quantumMs: 60_000, queueThresholds: [60_000], ...NO_PROMOTION });
    s.submit('a', gpu('a'));
    await s.at(1);
    s.submit('b', gpu('b'));
    await s.at(2);
    s.submit('c', gpu('c'));
    expect([s.where('a'), s.where('b'), s.status('c')]).toEqual(['n1[0]', 'n1[0]', 'queued']);
    expect(await s.tickAt(60)).toEqual(['granted c n1[0]', 'resolved c granted', 'suspended a']);
    expect(s.allocation('a')).toMatchObject({ state: 'active', suspendedAt: s.clock.now() });
    expect(s.engine.suspendedCount).toBe(1);
    expect(await s.tickAt(120)).toEqual(['resumed a', 'suspended c']);
    expect(s.allocation('a')).not.toHaveProperty('suspendedAt');
  });

  it('Tiresias LAS on one GPU: first queue first, FIFO within a queue; suspended/resumed at the quantum boundaries', async () => {
    // thresholds [120 s·GPU], quantum 60 s. A from 0 s; B waits from 1 s.
    //  60 s: A 60 000 (q0, rank 0 s) vs B (q0, rank 1 s): A keeps the GPU.
    // 120 s: A 120 000 ≥ 120 000 → q1 → B (q0) granted, A suspended.
    // 180 s: B 60 000 (q0) vs A (q1): no change.
    // 240 s: B 120 000 → q1 (rank 1e15 + 1 s) vs A (1e15 + 0 s): A resumed, B suspended.
    const s = ts({ quantumMs: 60_000, queueThresholds: [120_000], ...NO_PROMOTION });
    s.submit('A', gpu('a'));
    await s.at(1);
    s.submit('B', gpu('b'));
    expect(await s.tickAt(60)).toEqual([]);
    expect(await s.tickAt(120)).toEqual(['granted B n1[0]', 'resolved B granted', 'suspended A']);
    expect(await s.tickAt(180)).toEqual([]);
    expect(await s.tickAt(240)).toEqual(['resumed A', 'suspended B']);
    expect(s.allocation('B')).toMatchObject({ suspendedAt: s.clock.now() });
  });

  it('attained service is GPUs × run time: a 2-GPU holder reaches the threshold in half the time', async () => {
    // 2 GPUs, thresholds [120 s·GPU]. A (2 GPUs) from 0 s, B (1 GPU) waits from 1 s.
    // 60 s: A attained 2 × 60 000 = 120 000 → q1 (a 1-GPU holder would be at 60 000, q0, as above) → B granted on
    // GPU 0 (both GPUs give one free slot: lowest index), A cannot get both GPUs back → suspended.
    const s = ts({ quantumMs: 60_000, queueThresholds: [120_000], ...NO_PROMOTION }, [gpuNode('n1', 2)]);
    s.submit('A', gpu('a', 2));
    await s.at(1);
    s.submit('B', gpu('b'));
    expect(await s.tickAt(60)).toEqual(['granted B n1[0]', 'resolved B granted', 'suspended A']);
  });

  it.each([
    // A suspended at 180 s after running 180 s (q2); at 240 s it has waited 60 s. Promoted to q0 when
    // waited ≥ starveMinMs and waited ≥ starvationFactor × 180 s.
    { starvationFactor: 0.25, starveMinMs: 30_000, promoted: true }, //   60 ≥ 30 and 60 ≥ 45
    { starvationFactor: 0.25, starveMinMs: 120_000, promoted: false }, // 60 < 120
    { starvationFactor: 2, starveMinMs: 0, promoted: false }, //           60 < 360
  ])('anti-starvation: factor $starvationFactor, starveMinMs $starveMinMs → promoted at 240 s: $promoted', async ({ starvationFactor, starveMinMs, promoted }) => {
    // thresholds [60 s, 120 s] (GPU·ms), quantum 60 s, one GPU.
    // A alone from 0 s (60 s, 120 s: nobody waits). B asks at 150 s.
    // 180 s: A 180 000 → q2; B q0 → B granted, A suspended (ran 180 s).
    // 240 s: B 60 000 → q1 (rank 1e15 + 150 s); A q2 (2e15 + 0 s) unless promoted to q0 (rank 0 s) → then A resumes.
    const s = ts({ quantumMs: 60_000, queueThresholds: [60_000, 120_000], starvationFactor, starveMinMs });
    s.submit('A', gpu('a'));
    expect(await s.tickAt(60)).toEqual([]);
    expect(await s.tickAt(120)).toEqual([]);
    await s.at(150);
    s.submit('B', gpu('b'));
    expect(await s.tickAt(180)).toEqual(['granted B n1[0]', 'resolved B granted', 'suspended A']);
    expect(await s.tickAt(240)).toEqual(promoted ? ['resumed A', 'suspended B'] : []);
  });

  it('the rotation keeps the best-ranked holders running: with two GPUs, the worst-ranked one is suspended', async () => {
    // 2 GPUs, thresholds [30 s·GPU]. S1 from 0 s on GPU 0, S2 from 1 s on GPU 1, S3 waits from 2 s.
    // 60 s: S1 60 000 → q1 (rank 1e15 + 0 s), S2 59 000 → q1 (1e15 + 1 s), S3 q0 (2 s).
    // LAS order S3, S1, S2 with two GPUs: S3 and S1 run, S2 (the worst) is suspended; S3 takes S2's GPU 1 and S1
    // keeps GPU 0 (no record for it).
    const s = ts({ quantumMs: 60_000, queueThresholds: [30_000], ...NO_PROMOTION }, [gpuNode('n1', 2)]);
    s.submit('S1', gpu('a'));
    await s.at(1);
    s.submit('S2', gpu('b'));
    await s.at(2);
    s.submit('S3', gpu('c'));
    expect(await s.tickAt(60)).toEqual(['granted S3 n1[1]', 'resolved S3 granted', 'suspended S2']);
    expect(s.allocation('S1')).not.toHaveProperty('suspendedAt');
  });
});

// ====================================================================== resource_pooling

describe('resource_pooling', () => {
  const rp = (config: object, nodes: Inventory[]) => sim({ strategy: createStrategy('resource_pooling', config), nodes });

  it('MostAllocated: fills the busier node first', () => {
    // 2 nodes × 2 GPUs, weights cpu 1, memory 1, gpu 2; score = Σ w·100·(used + req)/cap ÷ 4.
    // a: n1 (0+0+2·50)/4 = 25 = n2 → node order: n1[0].  b: n1 (2·100)/4 = 50 > n2 25 → n1[1].  c: only n2 fits → n2[0].
    const s = rp({}, [gpuNode('n1', 2), gpuNode('n2', 2)]);
    for (const n of ['a', 'b', 'c']) s.submit(n, gpu(n));
    expect(['a', 'b', 'c'].map((n) => s.where(n))).toEqual(['n1[0]', 'n1[1]', 'n2[0]']);
  });

  it('MostAllocated counts cpu and memory too: a cpu job goes where cpu is already used', () => {
    // n1 and n2 (8 cores, 16 GiB, 2 GPUs each). c1 (4 cores): tie → n1. g (1 GPU): n1 (4/8·1 + 0 + 2·50)/4 = 37.5 >
    // n2 25 → n1[0]. c2 (2 cores): n1 (6/8 + 0 + 2·50/100)/4·100 = (75 + 100)/4 = 43.75 > n2 (25 + 0 + 0)/4 = 6.25 → n1.
    const s = rp({}, [gpuNode('n1', 2), gpuNode('n2', 2)]);
    s.submit('c1', { owner: 'c', resources: { cpu: 4000 } });
    s.submit('g', gpu('g'));
    s.submit('c2', { owner: 'c', resources: { cpu: 2000 } });
    expect(['c1', 'g', 'c2'].map((n) => s.allocation(n)!.node)).toEqual(['n1', 'n1', 'n1']);
    expect(s.where('g')).toBe('n1[0]');
  });

  it('fractional requests are packed onto an already shared GPU by best fit; whole GPUs stay whole', () => {
    // 3 GPUs × 16 GiB on one node.
    // f1 8 GiB: no shared GPU → GPU 0 (room left 8).   w (1 GPU): GPU 1 (GPU 0 is shared, not whole-free).
    // f3 14 GiB: GPU 0 has 8 < 14 → GPU 2 (room 2).   f2 2 GiB: shared GPUs with room 8 (0) and 2 (2) → best fit GPU 2.
    // f4 2 GiB: GPU 2 has 0 left → GPU 0.   w2 (1 GPU): no whole GPU left → waits.
    const s = rp({}, [gpuNode('n1', 3)]);
    s.submit('f1', { owner: 'f', resources: { gpuMemMiB: 8 * GiB } });
    s.submit('w', gpu('w'));
    s.submit('f3', { owner: 'f', resources: { gpuMemMiB: 14 * GiB } });
    s.submit('f2', { owner: 'f', resources: { gpuMemMiB: 2 * GiB } });
    s.submit('f4', { owner: 'f', resources: { gpuMemMiB: 2 * GiB } });
    s.submit('w2', gpu('w'));
    expect(['f1', 'w', 'f3', 'f2', 'f4'].map((n) => s.where(n))).toEqual(['n1[0]', 'n1[1]', 'n1[2]', 'n1[2]', 'n1[0]']);
    expect(s.status('w2')).toBe('queued');
    // priority_based packs first fit instead: f2 would go to GPU 0, the first shared GPU with room
    const pb = sim({ strategy: createStrategy('priority_based'), nodes: [gpuNode('n1', 3)] });
    pb.submit('f1', { owner: 'f', resources: { gpuMemMiB: 8 * GiB } });
    pb.submit('w', gpu('w'));
    pb.submit('f3', { owner: 'f', resources: { gpuMemMiB: 14 * GiB } });
    pb.submit('f2', { owner: 'f', resources: { gpuMemMiB: 2 * GiB } });
    expect(pb.where('f2')).toBe('n1[0]');
  });

  it('group quotas: idle quota is lent, and taken back by preemption (after the grace) when the owning group asks', async () => {
    // 4 GPUs; quotas research 2, prod 2; grace 30 s. research takes r1..r4 one second apart ([0]..[3]): r3, r4 borrow.
    // 4 s: p1, p2 (prod) wait. 5 s tick: p1 is within prod's quota (0 + 1 ≤ 2); research is over (4 > 2) → its
    //   GPU holdings are candidates; victims: take all, reprieve r1, r2, r3 (oldest first) while it fits → [r4].
    //   p2 (same shape) is not tried again in this pass.
    // 35 s: r4 preempted → p1 granted on GPU 3; p2: prod 1 + 1 ≤ 2, research 3 > 2 → victim r3 → notice, preemptAt 65 s.
    // 65 s: r3 preempted → p2 on GPU 2. research is back at its quota: nothing more to take.
    const s = rp({ groupQuotas: { research: { gpus: 2 }, prod: { gpus: 2 } } }, [gpuNode('n1', 4)]);
    for (let i = 1; i <= 4; i++) {
      await s.at(i - 1);
      s.submit(`r${i}`, gpu('rita', 1, { group: 'research' }));
    }
    expect(['r1', 'r2', 'r3', 'r4'].map((n) => s.where(n))).toEqual(['n1[0]', 'n1[1]', 'n1[2]', 'n1[3]']);
    await s.at(4);
    s.submit('p1', gpu('paul', 1, { group: 'prod' }));
    s.submit('p2', gpu('paul', 1, { group: 'prod' }));
    expect(await s.tickAt(5)).toEqual(['notice r4 at 35s']);
    expect(await s.tickAt(35)).toEqual(['preempted r4', 'granted p1 n1[3]', 'resolved p1 preempted_holder', 'notice r3 at 65s']);
    expect(await s.tickAt(65)).toEqual(['preempted r3', 'granted p2 n1[2]', 'resolved p2 preempted_holder']);
    // p3 would take prod beyond its quota (2 + 1 > 2), and research is within its own: no preemption
    s.submit('p3', gpu('paul', 1, { group: 'prod' }));
    expect(await s.tickAt(66)).toEqual([]);
    expect(await s.tickAt(600)).toEqual([]);
    expect(s.status('p3')).toBe('queued');
  });

  it('group quotas without lending: a group beyond its quota waits although GPUs are idle', () => {
    // research quota 2: r1, r2 within; r3 would borrow, lendIdleQuota false → waits; GPUs 2, 3 stay idle.
    const s = rp({ groupQuotas: { research: { gpus: 2 } }, lendIdleQuota: false }, [gpuNode('n1', 4)]);
    for (const n of ['r1', 'r2', 'r3']) s.submit(n, gpu('rita', 1, { group: 'research' }));
    expect([s.where('r1'), s.where('r2'), s.status('r3')]).toEqual(['n1[0]', 'n1[1]', 'queued']);
    expect(s.engine.free().gpus.map((g) => g.wholeFree)).toEqual([false, false, true, true]);
  });
});

// ====================================================================== load_balancing

describe('load_balancing', () => {
  function lb(nodes: Inventory[], util: Record<string, number> = {}, config: object = {}) {
    const u = new Map(Object.entries(util));
    const s = sim({ strategy: createStrategy('load_balancing', config), nodes, engine: { gpuUtilisation: (node, index) => u.get(`${node}:${index}`) ?? null } });
    return Object.assign(s, { util: u });
  }

  it('LeastAllocated + Balanced: spreads across nodes', () => {
    // 2 nodes × 2 GPUs, weights cpu 1, memory 1, gpu 2; fractions (cpu, memory, gpu) after placing a 1-GPU job:
    //   on an empty node (0, 0, .5): least (100 + 100 + 2·50)/4 = 75, balanced (1 − std(0,0,.5))·100 = 76.43 → 151.43
    //   on a node with one job (0, 0, 1): least (100 + 100 + 0)/4 = 50, balanced (1 − .4714)·100 = 52.86 → 102.86
    // a: tie → n1[0]; b: n2 (151.43 > 102.86) → n2[0]; c: tie → n1[1]; d: n2[1].
    const s = lb([gpuNode('n1', 2), gpuNode('n2', 2)]);
    for (const n of ['a', 'b', 'c', 'd']) s.submit(n, gpu(n));
    expect(['a', 'b', 'c', 'd'].map((n) => s.where(n))).toEqual(['n1[0]', 'n2[0]', 'n1[1]', 'n2[1]']);
  });

  it('a GPU busy at or above busyPercent (90) by live utilisation is not offered, even with nothing allocated on it', () => {
    // one node, GPU 0 at 90 % (= busyPercent: not offered), GPU 1 at 10 %. a → GPU 1; b: GPU 0 is unallocated but busy → waits.
    const s = lb([gpuNode('n1', 2)], { 'n1:0': 90, 'n1:1': 10 });
    s.submit('a', gpu('a'));
    s.submit('b', gpu('b'));
    expect([s.where('a'), s.status('b')]).toEqual(['n1[1]', 'queued']);
    expect(s.engine.free().gpus[0]).toMatchObject({ wholeFree: true, allocations: 0 });
    // 89.9 % is below the threshold: offered at the next decision
    s.util.set('n1:0', 89.9);
    expect(s.step(() => s.engine.decide({ force: true }))).toEqual(['granted b n1[0]', 'resolved b granted']);
  });

  it('a busy GPU is offered again at the next snapshot once its utilisation falls', () => {
    const s = lb([gpuNode('n1', 2)], { 'n1:0': 95 });
    s.submit('a', gpu('a'));
    s.submit('b', gpu('b'));
    expect([s.where('a'), s.status('b')]).toEqual(['n1[1]', 'queued']);
    s.util.set('n1:0', 20);
    expect(s.step(() => s.engine.onSnapshot(gpuNode('n1', 2)))).toEqual(['granted b n1[0]', 'resolved b granted']);
  });

  it('live utilisation counts as allocated: a node with a busy GPU scores lower; within a node the least used GPU first', () => {
    // n1 GPU 0 at 80 %. a: n1 fractions (0, 0, (0.8 + 1)/2 = .9): least (100 + 100 + 2·10)/4 = 55, balanced
    //   (1 − std(0,0,.9))·100 = 57.57 → 112.57 < n2 151.43 → n2[0].
    // b: n1 112.57 > n2 (0, 0, 1) 102.86 → n1, where GPU 1 (0 %) goes before GPU 0 (80 %) → n1[1].
    const s = lb([gpuNode('n1', 2), gpuNode('n2', 2)], { 'n1:0': 80 });
    s.submit('a', gpu('a'));
    s.submit('b', gpu('b'));
    expect([s.where('a'), s.where('b')]).toEqual(['n2[0]', 'n1[1]']);
  });
});

// ====================================================================== hybrid

describe('hybrid', () => {
  it('multifactor with the DRF fair-share factor: an owner without usage goes before a heavy one that asked first', async () => {
    // defaults: age 1000, priority 10000, fairShare 5000. 2 GPUs: heavy holds GPU 0, z GPU 1 from 0 s;
    // H (heavy) at 1 s, L (light) at 2 s; z released at 3 s.
    // DRF factor 2^(−U/S): shares heavy ≈ 1/2, z ≈ 0.0003 (decayed), light 0 (unknown); S = 1/3 (3 owners).
    //   H: 5000 + 5000·2^(−0.9994·3) ≈ 5000 + 625;  L: 5000 + 5000·2^0 = 10000 (age adds < 0.01) → L.
    const s = sim({ strategy: createStrategy('hybrid'), nodes: [gpuNode('n1', 2)] });
    s.submit('hv', gpu('heavy'));
    s.submit('zb', gpu('z'));
    await s.at(1);
    s.submit('H', gpu('heavy'));
    await s.at(2);
    s.submit('L', gpu('light'));
    await s.at(3);
    expect(grantsIn(s.release('zb'))).toEqual(['granted L n1[1]']);
  });

  it('MostAllocated on GPUs: packs the busier node (load_balancing would spread)', () => {
    // score = 2·MostAllocated(gpu) + 1·Balanced(cpu, memory); gpu-only jobs: Balanced(0, 0) = 100.
    // a: n1 2·50 + 100 = 200 = n2 → n1[0]. b: n1 2·100 + 100 = 300 > n2 200 → n1[1]. c: only n2 fits → n2[0].
    const s = sim({ strategy: createStrategy('hybrid'), nodes: [gpuNode('n1', 2), gpuNode('n2', 2)] });
    for (const n of ['a', 'b', 'c']) s.submit(n, gpu(n));
    expect(['a', 'b', 'c'].map((n) => s.where(n))).toEqual(['n1[0]', 'n1[1]', 'n2[0]']);
  });

  it('time-slicing for requests of at most timeSliceMaxGpus (1): a 1-GPU job rotates after 1 GPU·h', async () => {
    // one GPU; LAS thresholds of time_slicing's defaults (1 GPU·h, 10 GPU·h); quantum 60 s.
    // S1 from 0 s, S2 waits from 1 s. At each minute up to 59 min S1 (< 3.6e6 GPU·ms) stays in q0, FIFO first.
    // 60 min: S1 attained 3 600 000 → q1 → S2 granted, S1 suspended.
    const s = sim({ strategy: createStrategy('hybrid'), nodes: [gpuNode('n1', 1)] });
    s.submit('S1', gpu('a'));
    await s.at(1);
    s.submit('S2', gpu('b'));
    for (let m = 1; m < 60; m++) expect(await s.tickAt(m * 60)).toEqual([]);
    expect(await s.tickAt(3600)).toEqual(['granted S2 n1[0]', 'resolved S2 granted', 'suspended S1']);
  });

  it('a 2-GPU job is not time-sliced with timeSliceMaxGpus 1, and is with timeSliceMaxGpus 2', async () => {
    // 2 GPUs. BIG (2 GPUs) from 0 s, S1 (1 GPU) waits from 1 s. Rotations every minute.
    // max 1: BIG is not sliced → never suspended; S1 waits (2 h checked).
    // max 2: BIG attained 2 GPUs × 30 min = 1 GPU·h → q1 at 30 min → S1 granted on GPU 0, BIG suspended.
    const run = async (timeSliceMaxGpus: number, minutes: number) => {
      const s = sim({ strategy: createStrategy('hybrid', { timeSliceMaxGpus }), nodes: [gpuNode('n1', 2)] });
      s.submit('BIG', gpu('big', 2));
      await s.at(1);
      s.submit('S1', gpu('s'));
      const out: string[] = [];
      for (let m = 1; m <= minutes; m++) for (const l of await s.tickAt(m * 60)) out.push(`${m}: ${l}`);
      return out;
    };
    expect(await run(1, 120)).toEqual([]);
    expect(await run(2, 31)).toEqual(['30: granted S1 n1[0]', '30: resolved S1 granted', '30: suspended BIG']);
  });
});

// ====================================================================== switching strategies

describe('switching strategy', () => {
  it('under load keeps every request: none lost, none duplicated; queued + granted = submitted at every step', async () => {
    const s = sim({
      strategy: createStrategy('time_slicing', { replicas: 2, quantumMs: 60_000, queueThresholds: [60_000] }),
      nodes: [gpuNode('n1', 2), gpuNode('n2', 2)],
    });
    let seq = 0;
    const shapes: Body['resources'][] = [{ gpus: 1 }, { gpus: 2 }, { gpuMemMiB: 4 * GiB }, { cpu: 1500, memoryMiB: 2 * GiB }, { gpus: 1, cpu: 500 }];
    const submitted: string[] = [];
    const more = (n: number) => {
      for (let i = 0; i < n; i++) {
        const k = seq++;
        const name = `r${k}`;
        s.submit(name, { owner: `o${k % 3}`, priority: k % 4, resources: shapes[k % shapes.length]! });
        submitted.push(name);
      }
    };
    const check = (when: string) => {
      const all = s.engine.listRequests();
      const names = all.map((r) => r.labels!['name']!);
      expect(new Set(names).size, when).toBe(names.length);
      expect([...names].sort(), when).toEqual([...submitted].sort());
      const queued = all.filter((r) => r.status === 'queued');
      const granted = all.filter((r) => r.status === 'granted');
      expect(queued.length + granted.length, when).toBe(submitted.length);
      expect(s.engine.queueSize, when).toBe(queued.length);
      // each granted request has one active allocation of its own, and there are no others
      const active = s.engine.listAllocations('active');
      expect(active.length, when).toBe(granted.length);
      expect(new Set(active.map((a) => a.requestId)), when).toEqual(new Set(granted.map((r) => r.id)));
      for (const r of granted) expect(s.engine.allocation(r.allocationId!)!.requestId, when).toBe(r.id);
      // records: at most one grant per request, and one per granted request
      const grants = s.records.filter((c) => c.kind === 'request_granted').map((c) => c.kind === 'request_granted' && c.request.id);
      expect(new Set(grants).size, when).toBe(grants.length);
      expect(grants.length, when).toBe(granted.length);
      const free = s.engine.free();
      expect(free.cpu!, when).toBeGreaterThanOrEqual(0);
      expect(free.memoryMiB!, when).toBeGreaterThanOrEqual(0);
    };
    more(16);
    check('start');
    let t = 0;
    expect(await s.tickAt((t += 61))).not.toEqual([]); // a rotation under time_slicing
    check('after a rotation');
    const sequence = ['priority_based', 'fair_sharing', 'resource_pooling', 'load_balancing', 'hybrid', 'time_slicing', 'priority_based', 'hybrid', 'fair_sharing'] as const;
    for (const name of sequence) {
      expect(s.step(() => s.engine.setStrategy(createStrategy(name)))[0]).toBe(`strategy ${name}`);
      check(`switched to ${name}`);
      more(3);
      check(`submitted under ${name}`);
      await s.at((t += 61));
      s.engine.tick();
      check(`ticked under ${name}`);
    }
    expect(submitted).toHaveLength(16 + 3 * sequence.length);
  });

  /** One GPU; A runs from 0 s, B waits from 1 s; thresholds [60 s]: at 60 s B is granted and A suspended. */
  async function suspendedA() {
    const s = sim({ strategy: createStrategy('time_slicing', { quantumMs: 60_000, queueThresholds: [60_000], starveMinMs: 24 * HOUR }), nodes: [gpuNode('n1', 1)] });
    s.submit('A', gpu('a'));
    await s.at(1);
    s.submit('B', gpu('b'));
    expect(await s.tickAt(60)).toEqual(['granted B n1[0]', 'resolved B granted', 'suspended A']);
    return s;
  }

  it('a suspended allocation resumes at the switch to a non-rotating strategy when its GPU is free', async () => {
    // B released at 61 s (A stays suspended until a rotation under time_slicing); the switch at 62 s resumes A.
    const s = await suspendedA();
    await s.at(61);
    s.release('B');
    await s.at(62);
    expect(s.step(() => s.engine.setStrategy(createStrategy('priority_based')))).toEqual(['strategy priority_based', 'resumed A']);
    expect(s.allocation('A')).toMatchObject({ state: 'active', gpuIndices: [0] });
    expect(s.allocation('A')).not.toHaveProperty('suspendedAt');
    expect(s.engine.suspendedCount).toBe(0);
  });

  it('a suspended allocation whose GPU is busy at the switch resumes when the GPU is released', async () => {
    // switch at 61 s: B still holds GPU 0 → A cannot resume yet. B released at 62 s → A resumes on GPU 0.
    const s = await suspendedA();
    await s.at(61);
    expect(s.step(() => s.engine.setStrategy(createStrategy('priority_based')))).toEqual(['strategy priority_based']);
    await s.at(62);
    expect(s.release('B')).toEqual(['released B', 'resumed A']);
    expect(s.engine.suspendedCount).toBe(0);
  });
});

// ====================================================================== time-slice overrun

describe('time-slice overrun', () => {
  it('a suspended allocation whose process still runs on its GPU opens a schedule_conflict overrun:<id>, cleared when it stops', async () => {
    // 1 GPU, quantum 60 s, first LAS threshold 1 GPU·s: A runs from 0 s; B waits from 1 s; at the 60 s rotation A
    // (60 GPU·s, queue 1) ranks after B (queue 0): A suspended, B granted on GPU 0.
    const node = gpuNode('n1', 1);
    const s = sim({ strategy: createStrategy('time_slicing', { quantumMs: 60_000, queueThresholds: [1000] }), nodes: [node] });
    s.submit('A', gpu('a'));
    await s.at(1);
    s.submit('B', gpu('b'));
    expect(await s.tickAt(60)).toEqual(expect.arrayContaining(['suspended A', 'granted B n1[0]']));
    const a = s.allocation('A')!;
    const b = s.allocation('B')!;
    // the monitor still sees A's process on GPU 0 beside B's
    const usage = (pid: number, allocationId: string) => ({ pid, containerId: null, name: `p${pid}`, gpuIndex: 0, usedMemoryMiB: 1000, allocationId });
    const seen: Inventory = { ...node, sampledAt: s.clock.now(), gpus: node.gpus!.map((g) => ({ ...g, usages: [usage(11, a.id), usage(12, b.id)] })) };
    s.engine.onSnapshot(seen);
    const c = s.engine.openConflicts().find((x) => x.key === `overrun:${a.id}`);
    expect(c).toMatchObject({ type: 'schedule_conflict', requestId: s.id('A'), resource: 'gpu:0' });
    expect(c!.holders).toEqual([expect.objectContaining({ kind: 'process', pid: 11, allocationId: a.id })]);
    expect(c!.message).toContain('time-slice overrun');
    expect(s.engine.openConflicts().some((x) => x.key.startsWith('unmanaged:'))).toBe(false);
    // A's process pauses: the conflict is cleared
    s.engine.onSnapshot({ ...seen, gpus: node.gpus!.map((g) => ({ ...g, usages: [usage(12, b.id)] })) });
    expect(s.engine.conflict(c!.id)).toMatchObject({ status: 'resolved', resolution: 'cleared' });
  });
});
