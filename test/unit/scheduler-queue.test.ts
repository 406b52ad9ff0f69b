import { describe, expect, it } from 'vitest';
import { ConflictQueue, IndexedHeap, priorityBefore, type QueueEntry } from '../../server/scheduler/queue.ts';
import type { Conflict, Request } from '../../shared/scheduler.ts';
import { rng } from '../../server/rng.ts';

const T0 = 1_700_000_000_000;

function req(id: string, priority: number, submittedAt: number): Request {
  return { id, owner: 'o', priority, preemptible: false, resources: { cpu: 1, memoryMiB: 0, gpus: 0 }, submittedAt, updatedAt: submittedAt, status: 'queued' };
}

function conflict(severity: number): Conflict {
  return { id: `c${severity}`, key: 'k', type: 'resource_competition', severity, requestId: null, holders: [], resource: 'cpu', message: '', openedAt: T0, updatedAt: T0, status: 'open' };
}

const ids = (entries: QueueEntry[]) => entries.map((e) => e.request.id);

describe('ConflictQueue orders', () => {
  it('FIFO is arrival order; priority is severity, then effective priority, then age, then id', () => {
    const q = new ConflictQueue();
    q.insert(req('a', 0, T0 + 1), conflict(1));
    q.insert(req('b', 5, T0 + 2), conflict(1));
    q.insert(req('c', 0, T0 + 3), conflict(3)); // most severe
    q.insert(req('d', 5, T0 + 0), conflict(1)); // same severity and priority as b, older
    q.insert(req('f', 5, T0 + 2), conflict(1)); // ties b entirely but the id
    q.insert(req('e', 9, T0 + 4), null); // no conflict: severity 0
    expect(ids(q.list('fifo', 10).items)).toEqual(['a', 'b', 'c', 'd', 'f', 'e']);
    expect(ids(q.list('priority', 10).items)).toEqual(['c', 'd', 'b', 'f', 'a', 'e']);
    q.check();
  });

  it('pages both orders with limit and offset, and tells the total', () => {
    const q = new ConflictQueue();
    for (let i = 0; i < 10; i++) q.insert(req(`r${i}`, i, T0 + i), conflict(1));
    expect(q.list('fifo', 3, 2)).toMatchObject({ total: 10 });
    expect(ids(q.list('fifo', 3, 2).items)).toEqual(['r2', 'r3', 'r4']);
    expect(ids(q.list('priority', 3, 2).items)).toEqual(['r7', 'r6', 'r5']);
    expect(ids(q.list('priority', 5, 8).items)).toEqual(['r1', 'r0']);
    expect(q.list('priority', 0).items).toEqual([]);
  });

  it('moves an entry when its conflict severity changes (update-key), keeping its FIFO place', () => {
    const q = new ConflictQueue();
    q.insert(req('a', 0, T0), conflict(1));
    q.insert(req('b', 0, T0 + 1), conflict(2));
    expect(q.peek()!.request.id).toBe('b');
    q.update('a', { conflict: conflict(4) });
    expect(ids(q.list('priority', 5).items)).toEqual(['a', 'b']);
    expect(ids(q.list('fifo', 5).items)).toEqual(['a', 'b']);
    q.check();
  });

  it('re-keys everything when the notion of effective priority changes', () => {
    const q = new ConflictQueue();
    q.insert(req('a', 1, T0), conflict(1));
    q.insert(req('b', 2, T0 + 1), conflict(1));
    expect(q.peek()!.request.id).toBe('b');
    q.setPriorityOf((r) => -r.priority);
    expect(ids(q.list('priority', 5).items)).toEqual(['a', 'b']);
    q.check();
  });

  it('removes and refuses duplicates', () => {
    const q = new ConflictQueue();
    q.insert(req('a', 0, T0), null);
    expect(() => q.insert(req('a', 0, T0), null)).toThrow(/already queued/);
    expect(q.remove('a')!.request.id).toBe('a');
    expect(q.remove('a')).toBeUndefined();
    expect(q.size).toBe(0);
  });

  it('keeps its heap invariants under random insert / remove / update, and lists what a sorted array says', () => {
    const r = rng(42);
    const q = new ConflictQueue();
    const model = new Map<string, { request: Request; severity: number }>();
    let next = 0;
    for (let step = 0; step < 4000; step++) {
      const op = r();
      const live = [...model.keys()];
      if (op < 0.5 || live.length === 0) {
        const id = `r${next++}`;
        const request = req(id, Math.floor(r() * 5), T0 + Math.floor(r() * 50)); // many ties
        const severity = 1 + Math.floor(r() * 5);
        q.insert(request, conflict(severity));
        model.set(id, { request, severity });
      } else if (op < 0.75) {
        const id = live[Math.floor(r() * live.length)]!;
        q.remove(id);
        model.delete(id);
      } else {
        const id = live[Math.floor(r() * live.length)]!;
        const severity = 1 + Math.floor(r() * 5);
        q.update(id, { conflict: conflict(severity) });
        model.get(id)!.severity = severity;
      }
      if (step % 100 === 0 || step === 3999) {
        q.check();
        const expected = [...model.values()]
          .sort((a, b) => b.severity - a.severity || b.request.priority - a.request.priority || a.request.submittedAt - b.request.submittedAt || (a.request.id < b.request.id ? -1 : 1))
          .map((m) => m.request.id);
        expect(ids(q.list('priority', model.size).items)).toEqual(expected);
        expect(ids(q.list('priority', 7, 3).items)).toEqual(expected.slice(3, 10));
        expect(ids(q.list('fifo', model.size).items)).toEqual([...model.keys()]);
        expect(q.peek()?.request.id).toBe(expected[0]);
      }
    }
  });
});

describe('IndexedHeap', () => {
  it('pops in order and iterates lazily in order without changing the heap', () => {
    const r = rng(7);
    const h = new IndexedHeap<{ v: number; heapIndex: number }>((a, b) => a.v < b.v);
    const items = Array.from({ length: 500 }, () => ({ v: Math.floor(r() * 100), heapIndex: -1 }));
    for (const x of items) h.push(x);
    h.check();
    const sorted = items.map((x) => x.v).sort((a, b) => a - b);
    expect([...h.ordered()].map((x) => x.v)).toEqual(sorted);
    expect(h.size).toBe(500);
    for (const x of items.slice(0, 100)) {
      x.v = 1000 - x.v;
      h.update(x);
    }
    h.check();
    const out: number[] = [];
    while (h.size) out.push(h.pop()!.v);
    expect(out).toEqual([...out].sort((a, b) => a - b));
    expect(items.every((x) => x.heapIndex === -1)).toBe(true);
  });

  it('priorityBefore is a strict order', () => {
    const e = (id: string, severity: number, effectivePriority: number, at: number) =>
      ({ request: req(id, 0, at), severity, effectivePriority } as QueueEntry);
    expect(priorityBefore(e('a', 2, 0, 5), e('b', 1, 9, 0))).toBe(true);
    expect(priorityBefore(e('a', 1, 1, 5), e('b', 1, 0, 0))).toBe(true);
    expect(priorityBefore(e('a', 1, 0, 0), e('b', 1, 0, 5))).toBe(true);
    expect(priorityBefore(e('a', 1, 0, 0), e('b', 1, 0, 0))).toBe(true);
    expect(priorityBefore(e('a', 1, 0, 0), e('a', 1, 0, 0))).toBe(false);
  });
});
