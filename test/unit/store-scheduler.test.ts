import { describe, expect, it } from 'vitest';
import { ManualClock } from '../../server/clock.ts';
import { SchedulerEngine, SchedulerError, type EngineOptions } from '../../server/scheduler/engine.ts';
import { declaredInventory, type Inventory } from '../../server/scheduler/inventory.ts';
import { priorityBased } from '../../server/scheduler/strategies/priority_based.ts';
import { SchedulerStore } from '../../server/store/scheduler-store.ts';
import type { Change } from '../../shared/scheduler.ts';
import { storeEngines, type StoreEngine } from '../helpers/store-engines.ts';

const GiB = 1024;
const MIN = 60_000;

/** A store on a new database of the engine, or on `where` again (a restart). */
function storeOn(engine: StoreEngine, where = engine.fresh()) {
  const db = engine.open(where);
  return { where, db, store: new SchedulerStore(db) };
}

/** 8 cores, 16 GiB, 2 GPUs; GPU 1 optionally used by a process no allocation accounts for (a schedule_conflict). */
function node(rogue = false): Inventory {
  const inv = declaredInventory('n1', { resources: { cpu: 8000, memoryMiB: 16 * GiB, gpus: [0, 1].map((index) => ({ index, memoryMiB: 16 * GiB })) } });
  if (rogue && inv.gpus) inv.gpus[1]!.usages = [{ pid: 99, containerId: null, name: 'rogue', gpuIndex: 1, usedMemoryMiB: 2 * GiB, allocationId: null }];
  return inv;
}

function engineWith(clock: ManualClock, store: SchedulerStore, firstId: number, opts: Partial<EngineOptions> = {}) {
  let n = firstId;
  const engine = new SchedulerEngine({ clock, newId: () => `id${String(++n).padStart(4, '0')}`, onListenerError: (e) => { throw e; }, ...opts });
  const batches: (readonly Change[])[] = [];
  const detach = engine.onChange((b) => store.apply(b));
  engine.onChange((b) => void batches.push(b));
  return { engine, batches, lastId: () => n, detach };
}

/** Everything observable of an engine's state. */
function view(e: SchedulerEngine) {
  const byId = <T extends { id: string }>(xs: T[]) => [...xs].sort((a, b) => (a.id < b.id ? -1 : 1));
  const queue = (order: 'fifo' | 'priority') => e.listQueue(order, 1000).items.map((i) => ({ request: i.request, conflict: i.conflict }));
  return {
    requests: byId(e.listRequests()),
    allocations: byId(e.listAllocations()),
    active: byId(e.listAllocations('active')),
    fifo: queue('fifo'),
    priority: queue('priority'),
    open: byId(e.openConflicts()),
    conflicts: byId(e.conflicts()),
    nextLease: e.nextLeaseExpiry(),
    free: e.free(),
    strategy: e.strategyName,
  };
}

/** submit (grant, queue, idempotent), cancel, release, renew, expire, unmanaged GPU use: a bit of everything. */
async function scenario(clock: ManualClock, engine: SchedulerEngine) {
  engine.onSnapshot(node(true));
  const big = engine.submit({ owner: 'ana', resources: { gpus: 1, cpu: 2000 }, leaseMs: 5 * MIN }, { idempotencyKey: 'k-big' });
  await clock.advance(1000);
  const waiting = engine.submit({ owner: 'bob', resources: { gpus: 1 } });
  const cancelled = engine.submit({ owner: 'cyd', priority: 2, resources: { gpus: 1, memoryMiB: GiB } });
  const small = engine.submit({ owner: 'dan', resources: { cpu: 1000, memoryMiB: 2 * GiB } }, { idempotencyKey: 'k-small' });
  const shortLease = engine.submit({ owner: 'eve', resources: { cpu: 500 }, leaseMs: MIN });
  const urgent = engine.submit({ owner: 'fay', priority: 5, resources: { gpus: 1, cpu: 1000 } });
  engine.submit({ owner: 'gus', priority: -1, resources: { cpu: 500, gpuMemMiB: 4 * GiB } }, { idempotencyKey: 'k-frac' });
  await clock.advance(1000);
  engine.cancel(cancelled.request.id);
  engine.renew(small.allocation!.id, 20 * MIN);
  engine.release(big.allocation!.id); // urgent (priority 5) gets GPU 0 first
  await clock.advance(2 * MIN);
  engine.tick(); // eve's lease expired
  engine.submit({ owner: 'hal', resources: { cpu: 7000 } }); // waits: cpu taken
  engine.setStrategy(priorityBased());
  await clock.advance(1000);
  engine.tick();
  return { big, waiting, small, shortLease, urgent };
}

describe.each(storeEngines())('SchedulerStore on $name', (sql) => {
  describe('SchedulerStore: apply and load with a real engine', () => {
    it('keeps an allocation flagged on an unreachable node, and its open conflict, across a restart', () => {
      const { store } = storeOn(sql);
      const clock = new ManualClock();
      const a = engineWith(clock, store, 0);
      a.engine.onSnapshot(node());
      a.engine.onSnapshot(declaredInventory('n2', { resources: { cpu: 8000, memoryMiB: 16 * GiB, gpus: [{ index: 0, memoryMiB: 16 * GiB }] } }));
      const held = a.engine.submit({ owner: 'ana', resources: { gpus: 2 } });
      const there = a.engine.submit({ owner: 'bob', resources: { gpus: 1 } });
      expect(there.allocation!.node).toBe('n2');
      a.engine.setNodeReachable('n2', false);
      const loaded = store.load();
      expect(loaded.allocations.find((x) => x.id === there.allocation!.id)).toMatchObject({ node: 'n2', state: 'active', unreachableSince: clock.now() });
      expect(loaded.allocations.find((x) => x.id === held.allocation!.id)).not.toHaveProperty('unreachableSince');
      expect(loaded.conflicts.filter((c) => c.status === 'open').map((c) => [c.key, c.node])).toEqual([['unreachable:n2', 'n2']]);
      // a new engine: n2 is pending until it reports; its report settles it, and the store follows
      const b = engineWith(clock, store, a.lastId());
      b.engine.restore(loaded);
      b.engine.onSnapshot(node());
      expect(b.engine.nodeViews().map((v) => [v.name, v.state]).sort()).toEqual([['n1', 'reachable'], ['n2', 'pending']]);
      expect(b.engine.allocation(there.allocation!.id)!.unreachableSince).toBe(clock.now());
      b.engine.onSnapshot(declaredInventory('n2', { resources: { cpu: 8000, memoryMiB: 16 * GiB, gpus: [{ index: 0, memoryMiB: 16 * GiB }] } }));
      expect(store.load().allocations.find((x) => x.id === there.allocation!.id)).toMatchObject({ state: 'active', unreachableSince: null });
      expect(store.load().conflicts.filter((c) => c.status === 'open')).toEqual([]);
    });

    it('a new engine restored from the store has the same queue, allocations, leases and conflicts, and then behaves the same', async () => {
      const first = storeOn(sql);
      const { store, db } = first;
      const clock = new ManualClock();
      const a = engineWith(clock, store, 0);
      const s = await scenario(clock, a.engine);
      const kinds = new Set(a.batches.flat().map((c) => c.kind));
      for (const k of ['request_queued', 'request_granted', 'request_cancelled', 'allocation_granted', 'allocation_renewed', 'allocation_released',
        'allocation_expired', 'conflict_opened', 'conflict_resolved', 'strategy_changed'] as const) expect(kinds, k).toContain(k);
      expect(a.engine.request(s.shortLease.request.id)!.status).toBe('expired');
      expect(a.engine.request(s.urgent.request.id)!.status).toBe('granted');
      expect(a.engine.queueSize).toBeGreaterThanOrEqual(2);
      expect(a.engine.openConflicts().some((c) => c.type === 'schedule_conflict')).toBe(true);

      // every record is in the decision log, in order
      expect(store.decisions({ limit: 1000 }).map((d) => d.change)).toEqual(a.batches.flat());
      expect(new Set(store.decisions({ limit: 1000 }).map((d) => d.batch)).size).toBe(a.batches.length);

      // restart: a new engine from what was stored (a reopened file); the old one goes on in memory only
      a.detach();
      db.close();
      const reopened = storeOn(sql, first.where);
      const b = engineWith(clock, reopened.store, a.lastId());
      expect(b.engine.restore(reopened.store.load())).toEqual([]);
      expect(b.engine.onSnapshot(node(true))).toEqual([]);
      a.engine.onSnapshot(node(true));
      expect(view(b.engine)).toEqual(view(a.engine));
      expect(reopened.store.strategy()).toBe('priority_based');

      // and both go on alike: same operations → same change records
      const both = <T>(fn: (e: SchedulerEngine) => T): T => {
        const x = fn(a.engine);
        expect(fn(b.engine)).toEqual(x);
        return x;
      };
      both((e) => e.release(e.request(s.urgent.request.id)!.allocationId!));
      both((e) => e.submit({ owner: 'ivy', resources: { gpus: 1 } }, { idempotencyKey: 'k-ivy' }));
      await clock.advance(20 * MIN);
      both((e) => e.tick());
      both((e) => e.submit({ owner: 'ana', resources: { gpus: 1, cpu: 2000 }, leaseMs: 5 * MIN }, { idempotencyKey: 'k-big' }));
      expect(b.batches.flat().length).toBeGreaterThan(3);
      expect(view(b.engine)).toEqual(view(a.engine));
    });

    it('load() after every batch matches the engine state', async () => {
      const { store } = storeOn(sql);
      const clock = new ManualClock();
      const { engine } = engineWith(clock, store, 0);
      let checks = 0;
      engine.onChange(() => {
        const loaded = store.load();
        const sort = <T extends { id: string }>(xs: readonly T[]) => [...xs].sort((x, y) => (x.id < y.id ? -1 : 1));
        expect(sort(loaded.requests)).toEqual(sort(engine.listRequests()));
        expect(sort(loaded.allocations)).toEqual(sort(engine.listAllocations()));
        expect(sort(loaded.conflicts)).toEqual(sort(engine.conflicts()));
        checks++;
      });
      await scenario(clock, engine);
      expect(checks).toBeGreaterThan(10);
    });

    it('loads only the newest ended requests and resolved conflicts it is asked for, with their allocations', async () => {
      const { store } = storeOn(sql);
      const clock = new ManualClock();
      const { engine } = engineWith(clock, store, 0);
      engine.onSnapshot(node());
      const ids: string[] = [];
      for (let i = 0; i < 6; i++) {
        await clock.advance(1000);
        const r = engine.submit({ owner: 'a', resources: { gpus: 2 } });
        engine.release(r.allocation!.id);
        ids.push(r.request.id);
      }
      const held = engine.submit({ owner: 'a', resources: { gpus: 2 } });
      const waiting = engine.submit({ owner: 'b', resources: { gpus: 1 } });
      const loaded = store.load({ retainEnded: 2, retainResolvedConflicts: 0 });
      expect(loaded.requests.map((r) => r.id)).toEqual([held.request.id, waiting.request.id, ...ids.slice(-2)]);
      expect(loaded.allocations.map((x) => x.requestId).sort()).toEqual([held.request.id, ...ids.slice(-2)].sort());
      expect(loaded.conflicts).toEqual([waiting.conflict]);
      expect(store.requests({ limit: 100 }).total).toBe(8);
    });
  });

  describe('SchedulerStore: idempotency keys', () => {
    it('a retried submit after a restart returns the first request; another body with the key is refused', () => {
      const { store, where } = storeOn(sql);
      const clock = new ManualClock();
      const a = engineWith(clock, store, 0);
      a.engine.onSnapshot(node());
      const first = a.engine.submit({ owner: 'ana', resources: { gpus: 1 }, labels: { job: 'x' } }, { idempotencyKey: 'retry-me' });
      expect(store.requestByIdempotencyKey('retry-me')).toEqual(first.request);

      const again = storeOn(sql, where);
      const b = engineWith(clock, again.store, 100);
      b.engine.restore(again.store.load());
      b.engine.onSnapshot(node());
      const retry = b.engine.submit({ owner: 'ana', resources: { gpus: 1 }, labels: { job: 'x' } }, { idempotencyKey: 'retry-me' });
      expect(retry).toEqual({ request: first.request, allocation: first.allocation, replayed: true });
      expect(b.batches).toEqual([]);
      let err: unknown;
      try {
        b.engine.submit({ owner: 'ana', resources: { gpus: 2 } }, { idempotencyKey: 'retry-me' });
      } catch (e) {
        err = e;
      }
      expect(err).toBeInstanceOf(SchedulerError);
      expect((err as SchedulerError).code).toBe('idempotency_conflict');
    });

    it('a key the engine forgot (beyond retainEnded) may be reused: the newest request holds it, apply does not fail', () => {
      const { store } = storeOn(sql);
      const clock = new ManualClock();
      const { engine } = engineWith(clock, store, 0, { retainEnded: 1 });
      engine.onSnapshot(node());
      const old = engine.submit({ owner: 'a', resources: { cpu: 100 } }, { idempotencyKey: 'k' });
      engine.release(old.allocation!.id);
      engine.release(engine.submit({ owner: 'a', resources: { cpu: 100 } }).allocation!.id); // pushes `old` out of memory
      const reused = engine.submit({ owner: 'z', resources: { cpu: 200 } }, { idempotencyKey: 'k' });
      expect(reused.replayed).toBe(false);
      expect(reused.request.id).not.toBe(old.request.id);
      expect(store.requestByIdempotencyKey('k')!.id).toBe(reused.request.id);
      expect(store.request(old.request.id)!.idempotencyKey).toBe('k'); // its own record keeps what it was submitted with
    });
  });

  describe('SchedulerStore: writes and queries', () => {
    it('writes a batch in one transaction: a failing record leaves nothing of the batch', () => {
      const { store, db } = storeOn(sql);
      const clock = new ManualClock();
      const { engine, batches } = engineWith(clock, store, 0);
      engine.onSnapshot(node());
      engine.submit({ owner: 'a', resources: { gpus: 1 } });
      const [reqChange, allocChange] = batches[0]!;
      const count = () => (db.prepare('SELECT (SELECT count(*) FROM requests) + (SELECT count(*) FROM allocations) + (SELECT count(*) FROM decisions) AS n').get() as { n: number }).n;
      const before = count();
      const orphan = { ...allocChange!, allocation: { ...(allocChange as Extract<Change, { kind: 'allocation_granted' }>).allocation, id: 'x', requestId: 'missing' } } as Change;
      const fresh = { ...reqChange!, request: { ...(reqChange as Extract<Change, { kind: 'request_granted' }>).request, id: 'new' } } as Change;
      expect(() => store.apply([fresh, orphan])).toThrow(/FOREIGN KEY|foreign key/);
      expect(count()).toBe(before);
      expect(store.request('new')).toBeUndefined();
      // and the next batch is numbered on
      engine.submit({ owner: 'b', resources: { cpu: 10 } });
      expect(store.decisions({ limit: 100 }).map((d) => d.batch)).toEqual([1, 1, 2, 2]);
    });

    it('pages conflicts by status, newest first, with the total; requests by owner and status; decisions of one request', async () => {
      const { store } = storeOn(sql);
      const clock = new ManualClock();
      const { engine } = engineWith(clock, store, 0);
      engine.onSnapshot(node());
      const holder = engine.submit({ owner: 'h', resources: { gpus: 2 } });
      const waiting: string[] = [];
      for (let i = 0; i < 5; i++) {
        await clock.advance(1000);
        waiting.push(engine.submit({ owner: i % 2 ? 'odd' : 'even', resources: { gpus: 1 } }).request.id);
      }
      engine.cancel(waiting[0]!);
      engine.cancel(waiting[1]!);
      const open = store.conflicts({ status: 'open', limit: 2 });
      expect(open.total).toBe(3);
      expect(open.items.map((c) => c.requestId)).toEqual([waiting[4], waiting[3]]);
      expect(store.conflicts({ status: 'open', limit: 2, offset: 2 }).items.map((c) => c.requestId)).toEqual([waiting[2]]);
      const resolved = store.conflicts({ status: 'resolved' });
      expect(resolved.items.map((c) => [c.requestId, c.resolution])).toEqual([[waiting[1], 'cancelled'], [waiting[0], 'cancelled']]);
      expect(store.conflicts({ type: 'resource_competition' }).total).toBe(5);
      expect(store.requests({ owner: 'even' }).items.map((r) => r.id)).toEqual([waiting[4], waiting[2], waiting[0]]);
      expect(store.requests({ status: 'cancelled' }).total).toBe(2);
      engine.release(holder.allocation!.id);
      expect(store.decisions({ requestId: waiting[2] }).map((d) => d.change.kind)).toEqual(['request_queued', 'conflict_opened', 'request_granted', 'allocation_granted', 'conflict_resolved']);
      expect(store.allocation(holder.allocation!.id)!.state).toBe('released');
      expect(store.conflict(store.conflicts({ limit: 1 }).items[0]!.id)).toBeDefined();
      expect(() => store.conflicts({ limit: 0 })).toThrow(/limit must be an integer from 1 to 1000/);
      expect(() => store.requests({ offset: -1 })).toThrow(/offset/);
    });
  });
});
