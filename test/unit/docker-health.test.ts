import { describe, expect, it } from 'vitest';
import { DEFAULT_CONTAINER_THRESHOLDS as T, rateContainer, RestartTracker, validateThresholds } from '../../server/monitor/sources/docker/rating.ts';

const ok = { state: 'running' as const, healthcheck: null, memoryPercent: 10 };

describe('rateContainer', () => {
  it('healthy by default, also without stats', () => {
    expect(rateContainer(ok, 0, T)).toBe('healthy');
    expect(rateContainer({ ...ok, state: 'exited', memoryPercent: null }, 0, T)).toBe('healthy');
  });

  it('warning and critical near the memory limit (defaults 90 / 98)', () => {
    expect(T.memory).toEqual({ warning: 90, critical: 98 });
    expect(rateContainer({ ...ok, memoryPercent: 89.9 }, 0, T)).toBe('healthy');
    expect(rateContainer({ ...ok, memoryPercent: 90 }, 0, T)).toBe('warning');
    expect(rateContainer({ ...ok, memoryPercent: 98.5 }, 0, T)).toBe('critical');
  });

  it('critical when unhealthy or restarting in a loop', () => {
    expect(rateContainer({ ...ok, healthcheck: 'unhealthy' }, 0, T)).toBe('critical');
    expect(rateContainer({ ...ok, healthcheck: 'starting' }, 0, T)).toBe('healthy');
    expect(rateContainer({ ...ok, state: 'restarting', memoryPercent: null }, 0, T)).toBe('critical');
    expect(rateContainer(ok, T.restartLoop.count - 1, T)).toBe('healthy');
    expect(rateContainer(ok, T.restartLoop.count, T)).toBe('critical');
  });

  it('takes thresholds from the caller', () => {
    const t = { memory: { warning: 50, critical: 60 }, restartLoop: { count: 1, windowMs: 1000 } };
    expect(rateContainer({ ...ok, memoryPercent: 55 }, 0, t)).toBe('warning');
    expect(rateContainer(ok, 1, t)).toBe('critical');
  });

  it('rejects inconsistent thresholds, naming both values', () => {
    expect(() => validateThresholds({ ...T, memory: { warning: 95, critical: 90 } })).toThrow(/warning threshold \(95\).*critical one \(90\)/);
    expect(() => validateThresholds({ ...T, restartLoop: { count: 0, windowMs: 1 } })).toThrow(/count ≥ 1/);
  });
});

describe('RestartTracker', () => {
  it('counts rises of the restart count within the window; the first reading is the baseline', () => {
    const r = new RestartTracker(60_000);
    r.observe('a', 10, 0); // seen for the first time with 10 restarts behind it: not a loop now
    expect(r.risen('a', 0)).toBe(0);
    r.observe('a', 11, 10_000);
    r.observe('a', 11, 15_000);
    r.observe('a', 13, 20_000);
    expect(r.risen('a', 20_000)).toBe(3);
    expect(r.risen('a', 71_000)).toBe(2); // the rise at 10 s left the window
    expect(r.risen('a', 81_000)).toBe(0);
    r.forget('a');
    expect(r.risen('a', 20_000)).toBe(0);
  });

  it('retain drops containers that are gone', () => {
    const r = new RestartTracker(60_000);
    r.observe('a', 0, 0);
    r.observe('a', 5, 1);
    r.retain(new Set(['b']));
    expect(r.risen('a', 1)).toBe(0);
  });
});
