import { describe, expect, it } from 'vitest';
import { ConflictBook, requestSeverity, scheduleSeverity, type ConflictInit } from '../../server/scheduler/conflicts.ts';

const MIN = 60_000;

describe('severity', () => {
  it('1 + priority + wait + size, clamped to 1–5', () => {
    const s = (priority: number, waitMs: number, share: number) => requestSeverity({ priority, waitMs, share });
    expect(s(0, 0, 0.1)).toBe(1);
    expect(s(-50, 0, 0)).toBe(1);
    expect(s(1, 0, 0)).toBe(2);
    expect(s(100, 0, 0)).toBe(3);
    expect(s(0, 0, 0.5)).toBe(2);
    expect(s(0, MIN - 1, 0)).toBe(1);
    expect(s(0, MIN, 0)).toBe(2);
    expect(s(0, 10 * MIN, 0)).toBe(3);
    expect(s(0, 60 * MIN, 0)).toBe(4);
    expect(s(100, 60 * MIN, 1)).toBe(5);
  });

  it('schedule conflicts: worse when they touch an allocation, and with time', () => {
    expect(scheduleSeverity({ touchesAllocation: false, openMs: 0 })).toBe(1);
    expect(scheduleSeverity({ touchesAllocation: true, openMs: 0 })).toBe(3);
    expect(scheduleSeverity({ touchesAllocation: true, openMs: 10 * MIN })).toBe(5);
  });
});

describe('ConflictBook', () => {
  let n = 0;
  const book = () => new ConflictBook({ newId: () => `c${++n}`, maxResolved: 2 });
  const init = (key: string, over: Partial<ConflictInit> = {}): ConflictInit => ({
    key, type: 'resource_competition', severity: 1, requestId: key, holders: [], resource: 'gpu', message: 'm', ...over,
  });

  it('opens, updates only on change, resolves, and returns a record each time', () => {
    const b = book();
    const opened = b.openConflict(init('r1'), 10);
    expect(opened).toMatchObject({ kind: 'conflict_opened', at: 10, conflict: { status: 'open', openedAt: 10, key: 'r1' } });
    expect(() => b.openConflict(init('r1'), 11)).toThrow(/already open/);
    const id = opened.conflict.id;
    expect(b.update(id, { severity: 1, message: 'm' }, 12)).toBeNull();
    const holder = { kind: 'allocation' as const, allocationId: 'a', requestId: 'x', owner: 'o', priority: 0, gpuIndices: [0] };
    expect(b.update(id, { holders: [holder] }, 13)).toMatchObject({ kind: 'conflict_updated', conflict: { holders: [holder], updatedAt: 13 } });
    expect(b.update(id, { holders: [{ ...holder }] }, 14)).toBeNull(); // same holders
    expect(b.update(id, { type: 'priority_conflict', severity: 2 }, 15)!.conflict).toMatchObject({ type: 'priority_conflict', severity: 2 });
    expect(b.resolve(id, 'granted', 16)).toMatchObject({ kind: 'conflict_resolved', conflict: { status: 'resolved', resolution: 'granted', resolvedAt: 16 } });
    expect(b.resolve(id, 'granted', 17)).toBeNull();
    expect(b.update(id, { severity: 5 }, 18)).toBeNull();
    expect(b.openFor('r1')).toBeUndefined();
    // a new conflict may open under the same key; the old one stays as history
    b.openConflict(init('r1'), 20);
    expect([...b.all()].map((c) => c.status)).toEqual(['resolved', 'open']);
  });

  it('keeps a bounded history of resolved conflicts', () => {
    const b = book();
    for (let i = 0; i < 4; i++) {
      const c = b.openConflict(init(`k${i}`), i).conflict;
      b.resolve(c.id, 'cancelled', i);
    }
    b.openConflict(init('open'), 9);
    expect([...b.all()].map((c) => c.key)).toEqual(['k2', 'k3', 'open']);
    expect(b.openCount).toBe(1);
  });

  it('restores conflicts and refuses two open ones for one key', () => {
    const b = book();
    const c = { id: 'x', key: 'k', type: 'schedule_conflict' as const, severity: 2, requestId: null, holders: [], resource: 'gpu:0', message: '', openedAt: 1, updatedAt: 1, status: 'open' as const };
    b.restore([c]);
    expect(b.openFor('k')!.id).toBe('x');
    expect(() => book().restore([c, { ...c, id: 'y' }])).toThrow(/two open conflicts/);
  });
});
