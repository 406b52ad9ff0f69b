/**
 * A follower's read model against the leader's engine, on both store engines: the engine writes through a real
 * SchedulerStore; models loaded at different moments and moved forward by the decision log must answer every read
 * route exactly as the engine does at that moment (requests, allocations, the FIFO queue with its conflicts, open
 * and all conflicts), retention of ended requests and resolved conflicts included.
 */
import { describe, expect, it } from 'vitest';
import { ManualClock } from '../../server/clock.ts';
import type { SchedulerReads } from '../../server/scheduler/engine.ts';
import { ReplicaReadModel } from '../../server/runtime/replicas/read-model.ts';
import { SchedulerEngine, type EngineOptions } from '../../server/scheduler/engine.ts';
import { declaredInventory, type Inventory } from '../../server/scheduler/inventory.ts';
import { fairSharing } from '../../server/scheduler/strategies/fair_sharing.ts';
import { SchedulerStore } from '../../server/store/scheduler-store.ts';
import { storeEngines } from '../helpers/store-engines.ts';

const GiB = 1024;
const MIN = 60_000;

function node(rogue = false): Inventory {
  const inv = declaredInventory('n1', { resources: { cpu: 8000, memoryMiB: 16 * GiB, gpus: [0, 1].map((index) => ({ index, memoryMiB: 16 * GiB })) } });
  if (rogue && inv.gpus) inv.gpus[1]!.usages = [{ pid: 99, containerId: null, name: 'rogue', gpuIndex: 1, usedMemoryMiB: 2 * GiB, allocationId: null }];
  return inv;
}

/** What each read route asks, for every request id the engine ever made. */
function reads(x: SchedulerReads, ids: readonly string[]) {
  return {
    requests: ids.map((id) => x.request(id) ?? null),
    allocations: x.listAllocations(),
    active: x.listAllocations('active'),
    fifo: x.listQueue('fifo', 1000),
    page: x.listQueue('fifo', 2, 1),
    open: x.openConflicts(),
    conflicts: x.conflicts(),
    conflictById: x.conflicts().map((c) => x.conflict(c.id)),
  };
}

describe.each(storeEngines())('the replica read model on $name', (sql) => {
  function setup(opts: Partial<EngineOptions> = {}) {
    const store = new SchedulerStore(sql.open(sql.fresh()));
    const clock = new ManualClock();
    let n = 0;
    const ids: string[] = [];
    const engine = new SchedulerEngine({ clock, newId: () => `id${String(++n).padStart(4, '0')}`, onListenerError: (e) => { throw e; }, ...opts });
    engine.onChange((b) => store.apply(b));
    engine.onChange((b) => { for (const c of b) if ('request' in c && !ids.includes(c.request.id)) ids.push(c.request.id); });
    return { store, clock, engine, ids };
  }

  it('answers as the engine does after each step, whether loaded at the start, midway or at the end', async () => {
    const { store, clock, engine, ids } = setup();
    const fromStart = new ReplicaReadModel(store);
    const same = (m: ReplicaReadModel) => {
      m.refresh();
      expect(reads(m, ids)).toEqual(reads(engine, ids));
    };
    engine.onSnapshot(node());
    same(fromStart);
    const big = engine.submit({ owner: 'ana', resources: { gpus: 1, cpu: 2000 }, leaseMs: 5 * MIN }, { idempotencyKey: 'k-big' });
    engine.submit({ owner: 'bob', resources: { gpus: 1 } });
    const cancelled = engine.submit({ owner: 'cyd', priority: 2, resources: { gpus: 1, memoryMiB: GiB } });
    const small = engine.submit({ owner: 'dan', resources: { cpu: 1000, memoryMiB: 2 * GiB } });
    engine.submit({ owner: 'eve', resources: { cpu: 500 }, leaseMs: MIN });
    engine.submit({ owner: 'fay', priority: 5, resources: { gpus: 1, cpu: 1000 } });
    expect(engine.queueSize).toBeGreaterThanOrEqual(2);
    same(fromStart);
    const midway = new ReplicaReadModel(store);
    same(midway);
    await clock.advance(1000);
    engine.cancel(cancelled.request.id);
    engine.renew(small.allocation!.id, 20 * MIN);
    engine.release(big.allocation!.id); // a waiting one is granted
    same(fromStart);
    await clock.advance(2 * MIN);
    engine.tick(); // eve's lease expired
    engine.onSnapshot(node(true)); // a process no allocation accounts for: a schedule conflict
    engine.submit({ owner: 'hal', resources: { cpu: 7000 } });
    engine.setStrategy(fairSharing());
    await clock.advance(1000);
    engine.tick();
    const kinds = new Set(store.decisions({ limit: 1000 }).map((d) => d.change.kind));
    for (const k of ['request_cancelled', 'allocation_renewed', 'allocation_released', 'allocation_expired', 'conflict_resolved', 'strategy_changed'] as const) expect(kinds, k).toContain(k);
    expect(engine.openConflicts().some((c) => c.type === 'schedule_conflict')).toBe(true);
    same(fromStart);
    same(midway);
    same(new ReplicaReadModel(store));
    expect(fromStart.appliedSeq).toBe(store.lastSeq());
    expect(fromStart.refresh()).toBe(0); // nothing new
  });

  it('forgets the oldest ended requests and resolved conflicts beyond its retention, as the engine does', () => {
    const { store, engine, ids } = setup({ retainEnded: 3, retainResolvedConflicts: 2 });
    const model = new ReplicaReadModel(store, { retainEnded: 3, retainResolvedConflicts: 2, pageSize: 4 });
    engine.onSnapshot(node());
    for (let i = 0; i < 6; i++) {
      const held = engine.submit({ owner: `u${i}`, resources: { gpus: 2 } });
      engine.submit({ owner: `w${i}`, resources: { gpus: 1 } }); // waits, with a conflict, until the release
      engine.release(held.allocation!.id);
      const next = engine.listAllocations('active')[0]!;
      engine.release(next.id);
    }
    expect(model.refresh()).toBeGreaterThan(4); // caught up over several pages
    expect(reads(model, ids)).toEqual(reads(engine, ids));
    expect(model.conflicts().filter((c) => c.status === 'resolved')).toHaveLength(2);
    expect(ids.filter((id) => model.request(id))).toHaveLength(3);
    expect(reads(new ReplicaReadModel(store, { retainEnded: 3, retainResolvedConflicts: 2 }), ids)).toEqual(reads(engine, ids));
  });

  it('lists the queue in arrival order only: priority order is the leader’s to answer', () => {
    const { store } = setup();
    expect(() => new ReplicaReadModel(store).listQueue('priority', 10)).toThrow(/arrival order/);
  });
});
