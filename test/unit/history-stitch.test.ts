import { describe, expect, it } from 'vitest';
import { Stitcher } from '../../server/store/history/stitch.ts';

describe('Stitcher', () => {
  it('keeps points as they are without a step, one segment per run of one resolution', () => {
    const s = new Stitcher(0);
    s.push(0, 1, 60, 60_000);
    s.push(60_000, 2, 60, 60_000);
    s.push(120_000, 3.3, 1, 1000);
    s.push(121_000, 4, 1, 1000);
    expect(s.result()).toEqual({
      t: [0, 60_000, 120_000, 121_000],
      v: [1, 2, 3.3, 4],
      segments: [
        { start: 0, end: 2, resolutionMs: 60_000 },
        { start: 2, end: 4, resolutionMs: 1000 },
      ],
    });
  });

  it('merges a point whose time is not after the previous one (a duplicate second), weighted', () => {
    const s = new Stitcher(0);
    s.push(60_000, 10, 3, 1000);
    s.push(60_000, 20, 1, 1000);
    expect(s.result()).toEqual({ t: [60_000], v: [12.5], segments: [{ start: 0, end: 1, resolutionMs: 1000 }] });
  });

  it('with a step, averages points finer than it per step-aligned bucket, weighted by samples; coarser ones stay', () => {
    const s = new Stitcher(120_000);
    s.push(0, 10, 60, 60_000); // minutes 0 and 1 → one 2-minute point
    s.push(60_000, 40, 20, 60_000);
    s.push(120_000, 5, 1, 1000); // seconds within minutes 2–3 → one point
    s.push(121_000, 7, 1, 1000);
    s.push(3_600_000, 9, 60, 3_600_000); // an hour bucket: coarser than the step
    expect(s.result()).toEqual({
      t: [0, 120_000, 3_600_000],
      v: [(10 * 60 + 40 * 20) / 80, 6, 9],
      segments: [
        { start: 0, end: 2, resolutionMs: 120_000 },
        { start: 2, end: 3, resolutionMs: 3_600_000 },
      ],
    });
  });

  it('gives a lone point its own value, not one rounded through sum / weight', () => {
    const s = new Stitcher(0);
    s.push(0, 0.1, 3, 1000);
    expect(s.result().v).toEqual([0.1]);
  });

  it('answers nothing for no points', () => {
    expect(new Stitcher(60_000).result()).toEqual({ t: [], v: [], segments: [] });
  });
});
