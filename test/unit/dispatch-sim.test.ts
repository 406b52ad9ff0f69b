import { describe, expect, it } from 'vitest';
import { simulateDispatch, type DispatchSimOptions } from '../../server/sim/dispatch-sim.ts';

const base: Omit<DispatchSimOptions, 'policy' | 'predictor'> = {
  // heterogeneous: two slow instances and one four times as fast
  instances: [{ speed: 1 }, { speed: 1 }, { speed: 4, weight: 4 }],
  tasks: 3000,
  ratePerSec: 6,
  buckets: [{ name: 'small', meanMs: 100, sdMs: 20, share: 0.7 }, { name: 'large', meanMs: 900, sdMs: 100, share: 0.3 }],
  seed: 11,
};

describe('dispatch on a virtual clock (seeded)', () => {
  it('is deterministic for a seed', () => {
    const a = simulateDispatch({ ...base, policy: 'shortest_queue', predictor: 'bucketed' });
    const b = simulateDispatch({ ...base, policy: 'shortest_queue', predictor: 'bucketed' });
    expect({ ...a, decisionsPerSec: 0 }).toEqual({ ...b, decisionsPerSec: 0 });
  });

  it('shortest_queue waits less than round_robin on heterogeneous instances, and sends the fast one more', () => {
    const sq = simulateDispatch({ ...base, policy: 'shortest_queue', predictor: 'bucketed' });
    const rr = simulateDispatch({ ...base, policy: 'round_robin', predictor: 'bucketed' });
    expect(sq.meanWaitMs).toBeLessThan(rr.meanWaitMs);
    expect(rr.perInstance).toEqual([1000, 1000, 1000]);
    expect(sq.perInstance[2]!).toBeGreaterThan(Math.max(sq.perInstance[0]!, sq.perInstance[1]!));
  });

  it('the bucketed predictor predicts execution times better than one mean per model', () => {
    const bucketed = simulateDispatch({ ...base, policy: 'shortest_queue', predictor: 'bucketed' });
    const meanOnly = simulateDispatch({ ...base, policy: 'shortest_queue', predictor: 'mean_only' });
    expect(bucketed.execMaeMs).toBeLessThan(meanOnly.execMaeMs);
  });
});
