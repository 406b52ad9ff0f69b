import { describe, expect, it } from 'vitest';
import { History, SeriesRing, downsample } from '../../server/monitor/history.ts';

const T0 = 1_700_000_000_000;

describe('SeriesRing', () => {
  it('keeps one point per second, oldest first', () => {
    const r = new SeriesRing(10);
    for (let i = 0; i < 5; i++) r.push(T0 + i * 1000, i);
    expect(r.range(T0, T0 + 10_000)).toEqual({ t: [0, 1, 2, 3, 4].map((i) => T0 + i * 1000), v: [0, 1, 2, 3, 4] });
    expect(r.range(T0 + 2000, T0 + 3000).v).toEqual([2, 3]);
  });

  it('drops what falls out of the window when it wraps', () => {
    const r = new SeriesRing(10);
    for (let i = 0; i < 25; i++) r.push(T0 + i * 1000, i);
    const all = r.range(0, Number.MAX_SAFE_INTEGER);
    expect(all.v).toEqual([15, 16, 17, 18, 19, 20, 21, 22, 23, 24]);
    expect(all.t[0]).toBe(T0 + 15_000);
  });

  it('leaves holes for missing seconds and ignores samples older than the window', () => {
    const r = new SeriesRing(10);
    r.push(T0, 1);
    r.push(T0 + 3000, 3);
    r.push(T0 + 3500, 3.5); // same second: overwrites
    expect(r.range(0, T0 + 10_000)).toEqual({ t: [T0, T0 + 3000], v: [1, 3.5] });
    r.push(T0 + 20_000, 20);
    r.push(T0 + 5000, 5); // older than 10 s before the newest: ignored
    expect(r.range(0, T0 + 30_000).v).toEqual([20]);
  });

  it('knows its oldest point, also after wrapping and with holes', () => {
    const r = new SeriesRing(10);
    expect(r.oldestMs).toBeNull();
    r.push(T0 + 3000, 3);
    r.push(T0 + 5000, 5);
    expect(r.oldestMs).toBe(T0 + 3000);
    for (let i = 6; i < 25; i += 2) r.push(T0 + i * 1000, i);
    expect(r.oldestMs).toBe(T0 + 16_000);
    expect(new History(10).oldestMs('nope')).toBeNull();
  });

  it('stores values as Float32', () => {
    const r = new SeriesRing(4);
    r.push(T0, 0.1);
    expect(r.range(0, T0 + 1000).v[0]).toBeCloseTo(0.1, 6);
    expect(r.range(0, T0 + 1000).v[0]).not.toBe(0.1);
  });
});

describe('History', () => {
  it('records series by name, skipping null and NaN', () => {
    const h = new History(60);
    h.record('cpu.total', T0, 5);
    h.record('cpu.total', T0 + 1000, null);
    h.record('cpu.total', T0 + 2000, Number.NaN);
    h.record('mem.used', T0, 7);
    expect(h.names()).toEqual(['cpu.total', 'mem.used']);
    expect(h.query('cpu.total', 0, T0 + 5000).v).toEqual([5]);
    expect(h.query('nope', 0, T0)).toEqual({ t: [], v: [] });
  });

  it('forgets series with no point inside the window', () => {
    const h = new History(60);
    h.record('container.old.cpu', T0, 1);
    h.record('cpu.total', T0 + 59_000, 2);
    expect(h.prune(T0 + 60_000)).toBe(1);
    expect(h.names()).toEqual(['cpu.total']);
  });

  it('downsamples to step-aligned bucket means', () => {
    expect(downsample({ t: [0, 1000, 2000, 5000, 6000], v: [1, 2, 3, 10, 20] }, 5000)).toEqual({ t: [0, 5000], v: [2, 15] });
  });
});
