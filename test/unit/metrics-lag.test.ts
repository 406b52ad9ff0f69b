/** The event-loop lag figures: Node's delay histogram records its timer's intervals, the resolution included. */
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { describe, expect, it } from 'vitest';
import { lagFigures } from '../../server/metrics.ts';

const ms = (v: number) => v * 1e6;

/** A histogram as Node's, with these samples (ns). */
function histogram(samples: number[]) {
  const sorted = [...samples].sort((a, b) => a - b);
  const mean = samples.reduce((a, b) => a + b, 0) / (samples.length || 1);
  return {
    count: samples.length,
    min: samples.length ? sorted[0]! : 9223372036854775807,
    max: samples.length ? sorted.at(-1)! : 0,
    mean: samples.length ? mean : Number.NaN,
    stddev: samples.length ? Math.sqrt(samples.reduce((a, b) => a + (b - mean) ** 2, 0) / samples.length) : Number.NaN,
    percentile: (p: number) => (samples.length ? sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]! : 0),
  };
}

describe('lagFigures', () => {
  it('takes the resolution off: an idle loop at 1 s reads ~0, a loop held for 300 ms once reads 0.3 s at the max', () => {
    const idle = lagFigures(histogram([ms(1000.2), ms(1000.4), ms(1000.1)]), 1000);
    expect(idle.p99).toBeCloseTo(0.0004, 6);
    expect(idle.min).toBeCloseTo(0.0001, 6);
    const held = lagFigures(histogram([ms(1000.2), ms(1300.2), ms(1000.3)]), 1000);
    expect(held.max).toBeCloseTo(0.3002, 6);
    expect(held.p50).toBeCloseTo(0.0003, 6);
  });

  it('is 0, never negative or NaN, before a sample and for a timer that fired early', () => {
    expect(Object.values(lagFigures(histogram([]), 1000))).toEqual([0, 0, 0, 0, 0, 0, 0]);
    expect(lagFigures(histogram([ms(999.9)]), 1000).min).toBe(0);
  });

  it('matches what Node records: the raw figures of an idle loop are the resolution', async () => {
    const h = monitorEventLoopDelay({ resolution: 20 });
    h.enable();
    // until the histogram has samples (a loaded machine may run its timer late): a condition, not a duration
    while (h.count < 3) await new Promise((r) => setTimeout(r, 50));
    h.disable();
    expect(h.min / 1e6).toBeGreaterThanOrEqual(19); // what prom-client reported as the lag
    expect(lagFigures(h, 20).min).toBeLessThan(h.min / 1e9);
  });
});
