import { describe, expect, it } from 'vitest';
import { ManualClock } from '../../server/clock.ts';
import { History } from '../../server/monitor/history.ts';
import { aggregate, RollUp } from '../../server/store/history/rollup.ts';
import type { Bucket } from '../../server/store/history/slots.ts';
import type { HistoryTables } from '../../server/store/history/tables.ts';

const MIN = 60_000;
/** an hour boundary */
const T0 = Math.ceil(1_700_000_000_000 / 3_600_000) * 3_600_000;

/** Tables that record what they are asked to write. */
function recorder() {
  const writes: [number, [string, Bucket][]][] = [];
  const tables = { write: (at: number, buckets: [string, Bucket][]) => void writes.push([at, buckets]) } as Pick<HistoryTables, 'write'> as HistoryTables;
  return { tables, writes };
}

describe('aggregate', () => {
  it('gives count, mean, min and max', () => {
    expect(aggregate([3, 1, 2, 6])).toEqual({ n: 4, mean: 3, min: 1, max: 6 });
    expect(aggregate([-5])).toEqual({ n: 1, mean: -5, min: -5, max: -5 });
  });
});

describe('RollUp', () => {
  it('starts at the bucket in progress and writes each bucket with points once, per series', () => {
    const clock = new ManualClock(T0 + 30_000);
    const history = new History(600);
    const { tables, writes } = recorder();
    const roll = new RollUp(clock, history, tables, MIN);
    expect(roll.until).toBe(T0);
    for (let s = 0; s < 180; s++) history.record('cpu', T0 + s * 1000, s);
    history.record('mem', T0 + MIN, 7);
    clock.set(T0 + 180_000);
    expect(roll.to(T0 + 2 * MIN)).toBe(2);
    expect(roll.until).toBe(T0 + 2 * MIN);
    expect(writes).toEqual([
      [T0, [['cpu', { n: 60, mean: 29.5, min: 0, max: 59 }]]],
      [T0 + MIN, [['cpu', { n: 60, mean: 89.5, min: 60, max: 119 }], ['mem', { n: 1, mean: 7, min: 7, max: 7 }]]],
    ]);
    expect(roll.to(T0 + 2 * MIN)).toBe(0); // nothing twice
  });

  it('writes part of a bucket up to an end within it, and the rest later, labelled with the bucket', () => {
    const clock = new ManualClock(T0);
    const history = new History(600);
    const { tables, writes } = recorder();
    const roll = new RollUp(clock, history, tables, MIN);
    for (let s = 0; s < 60; s++) history.record('cpu', T0 + s * 1000, 1);
    clock.set(T0 + MIN);
    roll.to(T0 + 20_000);
    roll.to(T0 + MIN);
    expect(writes.map(([at, b]) => [at, b[0]![1].n])).toEqual([[T0, 20], [T0, 40]]);
  });

  it('skips buckets without points, and what is older than the rings hold (the process was starved)', () => {
    const clock = new ManualClock(T0);
    const history = new History(120);
    const { tables, writes } = recorder();
    const roll = new RollUp(clock, history, tables, MIN);
    history.record('cpu', T0 + 1000, 1); // still in the ring (nothing newer came), but older than its window now
    clock.set(T0 + 10 * MIN);
    history.record('mem', T0 + 9 * MIN, 5);
    expect(roll.to(T0 + 10 * MIN)).toBe(1);
    expect(writes).toEqual([[T0 + 9 * MIN, [['mem', { n: 1, mean: 5, min: 5, max: 5 }]]]]);
  });
});
