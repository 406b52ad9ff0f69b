import { describe, expect, it } from 'vitest';
import { RollingSeries } from '../../web/src/lib/rolling.ts';
import { formatBytes, formatPercent, formatRate } from '../../web/src/lib/format.ts';
import { historyUrl } from '../../web/src/lib/api.ts';

describe('RollingSeries', () => {
  it('appends only newer rows and keeps the window', () => {
    const r = new RollingSeries(['a', 'b'], 10);
    expect(r.append(100, [1, 2])).toBe(true);
    expect(r.append(100, [9, 9])).toBe(false);
    expect(r.append(99, [9, 9])).toBe(false);
    r.append(105, [3, null]);
    r.append(111, [5, 6]);
    expect(r.data()).toEqual([
      [105, 111],
      [3, 5],
      [null, 6],
    ]);
  });

  it('keeps at most one row per minimum step, the newest sample in the last row', () => {
    const r = new RollingSeries(['a'], 10, 1);
    for (let k = 0; k <= 30; k++) r.append(100 + k / 10, [k]);
    // one row per second, each the last sample of its second
    expect(r.data()).toEqual([
      [100.9, 101.9, 102.9, 103],
      [9, 19, 29, 30],
    ]);
    r.append(103.5, [35]);
    expect(r.data()).toEqual([
      [100.9, 101.9, 102.9, 103.5],
      [9, 19, 29, 35],
    ]);
  });

  it('replaces with history and keeps live rows newer than it', () => {
    const r = new RollingSeries(['rx', 'tx'], 600);
    r.append(1000.5, [10, 20]); // arrived while history was loading
    r.replaceWithHistory([
      { index: 0, t: [997_000, 998_000, 999_000, 1_000_000], v: [1, 2, null, 4] },
      { index: 1, t: [998_000, 1_000_000], v: [5, 6] },
    ]);
    expect(r.data()).toEqual([
      [997, 998, 999, 1000, 1000.5],
      [1, 2, null, 4, 10],
      [null, 5, null, 6, 20],
    ]);
    // rows the history already covers are replaced by it
    r.replaceWithHistory([{ index: 0, t: [1_000_000, 1_001_000], v: [7, 8] }]);
    expect(r.data()).toEqual([[1000, 1001], [7, 8], [null, null]]);
  });
});

describe('format', () => {
  it('formats figures with fixed decimals', () => {
    expect(formatPercent(12.345)).toBe('12.3 %');
    expect(formatPercent(0)).toBe('0.0 %');
    expect(formatBytes(512)).toBe('512 B');
    expect(formatBytes(1536)).toBe('1.50 KiB');
    expect(formatBytes(100e9)).toBe('93.1 GiB');
    expect(formatRate(2048)).toBe('2.00 KiB/s');
  });

  it('builds history URLs', () => {
    expect(historyUrl({ series: ['net.eth0.rx', 'net.eth0.tx'], sinceMs: 1000.7, stepMs: 500 })).toBe(
      '/api/history?series=net.eth0.rx%2Cnet.eth0.tx&sinceMs=1000&stepMs=1000',
    );
  });
});
