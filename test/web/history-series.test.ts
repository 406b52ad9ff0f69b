/** History series helpers: units and groups by name, aligned columns for the chart, the server's resolution runs. */
import { describe, expect, it } from 'vitest';
import { align, appendAligned, formatStep, groupSeries, resolutions, stepFor, unitOf } from '../../web/src/history/series.ts';

describe('history series', () => {
  it('knows the unit and group of each series name', () => {
    expect(['cpu.total', 'net.eth0.rx', 'gpu.0.temp', 'gpu.1.power', 'container.db.mem', 'container.db.cpu', 'disk./data.used'].map(unitOf))
      .toEqual(['%', 'B/s', '°C', 'W', 'MiB', '%', '%']);
    expect(groupSeries(['gpu.0.util', 'cpu.core.1', 'cpu.total', 'mem.used']).map(([g, n]) => [g, n])).toEqual([
      ['Host', ['cpu.total', 'mem.used']], ['GPUs', ['gpu.0.util']], ['CPU cores', ['cpu.core.1']],
    ]);
  });

  it('aligns series sampled a few ms apart on one axis, null where one has no point', () => {
    const res = { series: [
      { name: 'cpu.total', t: [10_000, 11_000, 12_000], v: [1, 2, 3] },
      { name: 'gpu.0.util', t: [10_040, 12_020], v: [50, null] },
    ] };
    expect(align(['cpu.total', 'gpu.0.util', 'missing'], res)).toEqual([[10, 11, 12], [1, 2, 3], [50, null, null], [null, null, null]]);
  });

  it('appends only newer rows and drops what left the window', () => {
    const cur = [[10, 11, 12], [1, 2, 3]] as [number[], (number | null)[]];
    const next = [[12, 13, 14], [3, 4, 5]] as [number[], (number | null)[]];
    expect(appendAligned(cur, next, 11)).toEqual([[11, 12, 13, 14], [2, 3, 4, 5]]);
  });

  it('reads where the on-disk minutes end and the in-memory seconds begin', () => {
    const t = [0, 60_000, 120_000, 121_000, 122_000];
    const res = { series: [{ name: 'cpu.total', t, v: t.map(() => 1), segments: [{ start: 0, end: 2, resolutionMs: 60_000 }, { start: 2, end: 5, resolutionMs: 1000 }] }] };
    expect(resolutions(res)).toEqual([{ fromMs: 0, toMs: 60_000, resolutionMs: 60_000 }, { fromMs: 120_000, toMs: 122_000, resolutionMs: 1000 }]);
    expect(resolutions({ series: [{ name: 'x', t, v: [] }] })).toEqual([]);
    expect([1000, 24_000, 60_000, 720_000, 7_200_000].map(formatStep)).toEqual(['1 s', '24 s', '1 min', '12 min', '2 h']);
  });

  it('keeps a window at about 3600 points, never finer than a second', () => {
    expect(stepFor(3600_000)).toBe(1000);
    expect(stepFor(60_000)).toBe(1000);
    expect(stepFor(24 * 3600_000)).toBe(24_000);
    expect(stepFor(30 * 24 * 3600_000)).toBe(720_000);
  });
});
