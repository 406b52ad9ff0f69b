/**
 * The short-job factor of priority_based and hybrid (weight `shortJob`, strategies/job-length.ts): shorter expected
 * lengths first, neutral without one, and the age factor bounding how long a longer job is passed over. One node of
 * one GPU, ManualClock.
 */
import { describe, expect, it } from 'vitest';
import { createStrategy } from '../../server/scheduler/strategies/index.ts';
import { JobLengths, shortness } from '../../server/scheduler/strategies/job-length.ts';
import type { Request } from '../../shared/scheduler.ts';
import { gpuNode, sim } from '../helpers/cluster.ts';

const MIN = 60_000;
const HOUR = 60 * MIN;
const req = (expectedDurationMs?: number) => ({ ...(expectedDurationMs !== undefined ? { expectedDurationMs } : {}) }) as Request;

describe('shortness', () => {
  it('1 − ln(1 + d/1 min) ÷ ln(1 + max/1 min), clamped; 0.5 without a length', () => {
    expect(shortness(req(0), 7 * 24 * HOUR)).toBe(1);
    // max 60 min: a 0-min job 1; a 60-min job 0; a longer one 0 too
    expect(shortness(req(60 * MIN), 60 * MIN)).toBeCloseTo(0);
    expect(shortness(req(600 * MIN), 60 * MIN)).toBe(0);
    // 7 min of 63: 1 − ln 8 / ln 64 = 1 − 3/6 = 0.5
    expect(shortness(req(7 * MIN), 63 * MIN)).toBeCloseTo(0.5);
    expect(shortness(req(), 60 * MIN)).toBe(0.5);
  });
});

describe('JobLengths', () => {
  const gpu = { cpu: 1000, memoryMiB: 0, gpus: 1 };
  const cpu = { cpu: 1000, memoryMiB: 0, gpus: 0 };
  it('estimates by owner and shape, else shape, else all: an exponentially weighted mean (0.2 for the newest)', () => {
    const l = new JobLengths();
    expect(l.estimate({ owner: 'a', resources: gpu })).toBeUndefined();
    l.observe('a', gpu, 100);
    l.observe('a', gpu, 200);
    // 100 + 0.2·(200 − 100) = 120
    expect(l.estimate({ owner: 'a', resources: gpu })).toBeCloseTo(120);
    l.observe('b', gpu, 1000);
    // b's own: 1000; the shape's: 120 + 0.2·880 = 296; a cpu-only shape: all jobs' 296
    expect(l.estimate({ owner: 'b', resources: gpu })).toBe(1000);
    expect(l.estimate({ owner: 'c', resources: gpu })).toBeCloseTo(296);
    expect(l.estimate({ owner: 'c', resources: cpu })).toBeCloseTo(296);
  });

  it.each(['priority_based', 'hybrid'] as const)('%s learns lengths from released allocations and ranks by them', async (name) => {
    const first = async (shortJob: number) => {
      const s = sim({ strategy: createStrategy(name, { recalcMs: 1000, weights: { shortJob } }), nodes: [gpuNode('a', 1)] });
      const body = (owner: string) => ({ owner, resources: { cpu: 1000, gpus: 1 } });
      // quick's job took 1 min, slow's 10 h
      s.submit('q0', body('quick'));
      await s.at(60);
      s.release('q0');
      s.submit('s0', body('slow'));
      await s.at(60 + 36_000);
      s.release('s0');
      s.submit('holder', body('x'));
      s.submit('slow1', body('slow'));
      await s.at(36_070);
      s.submit('quick1', body('quick'));
      await s.at(36_080);
      s.release('holder');
      return s.where('quick1') === 'a[0]' ? 'quick1' : s.where('slow1') === 'a[0]' ? 'slow1' : '-';
    };
    expect(await first(300)).toBe('quick1');
    // without the factor: submit order
    expect(await first(0)).toBe('slow1');
  });
});

describe.each(['priority_based', 'hybrid'] as const)('%s with shortJob', (name) => {
  const run = (config: object, waitBeforeShortSec = 1) => {
    const s = sim({ strategy: createStrategy(name, config), nodes: [gpuNode('a', 1)] });
    s.submit('holder', { owner: 'o', resources: { cpu: 1000, gpus: 1 } });
    s.submit('long', { owner: 'o', resources: { cpu: 1000, gpus: 1 }, expectedDurationMs: 48 * HOUR });
    return (async () => {
      await s.at(waitBeforeShortSec);
      s.submit('short', { owner: 'o', resources: { cpu: 1000, gpus: 1 }, expectedDurationMs: 5 * MIN });
      await s.at(waitBeforeShortSec + 11);
      s.release('holder');
      return s.where('short') === '-' ? 'long' : 'short';
    })();
  };

  it('off by default: the earlier (longer) job goes first', async () => {
    expect(await run({ recalcMs: 1000 })).toBe('long');
  });

  it('the shorter job goes first', async () => {
    expect(await run({ recalcMs: 1000, weights: { shortJob: 300 } })).toBe('short');
  });

  it('the age factor bounds it: a job that waited (w_short ÷ w_age)·maxAge outranks a shorter newcomer', async () => {
    // w_short 300, w_age 1000, maxAge 1 h: shortness 0.806 (5 min) against 0.136 (48 h) is 201 points, which the
    // age factor makes up in 0.201 h ≈ 12.1 min of waiting longer
    expect(await run({ recalcMs: 1000, maxAgeMs: HOUR, maxDurationMs: 7 * 24 * HOUR, weights: { shortJob: 300 } }, 13 * 60)).toBe('long');
    expect(await run({ recalcMs: 1000, maxAgeMs: HOUR, maxDurationMs: 7 * 24 * HOUR, weights: { shortJob: 300 } }, 10 * 60)).toBe('short');
  });
});
