import { describe, expect, it } from 'vitest';
import { createStrategy } from '../../server/scheduler/strategies/index.ts';
import type { Strategy } from '../../server/scheduler/strategy.ts';
import type { QueueView } from '../../server/scheduler/queue.ts';
import { ManualClock } from '../../server/clock.ts';
import { SchedulerEngine, type EngineOptions, type EngineState } from '../../server/scheduler/engine.ts';
import { declaredInventory, inventoryFrom, type Inventory } from '../../server/scheduler/inventory.ts';
import type { Allocation, Change, Conflict, Request } from '../../shared/scheduler.ts';
import type { GpuProcess, ResourceStatus } from '../../shared/resources.ts';
import { fakeGpu } from '../helpers/fake-gpu.ts';
import { schedulerError } from '../helpers/cluster.ts';
import { fakeHostSample } from '../helpers/fake-host.ts';

const GiB = 1024;
const MIN = 60_000;

function node(gpus = 2): Inventory {
  return declaredInventory('n1', { resources: { cpu: 8000, memoryMiB: 16 * GiB, gpus: Array.from({ length: gpus }, (_, index) => ({ index, memoryMiB: 16 * GiB })) } });
}

function setup(opts: Partial<EngineOptions> = {}, inv: Inventory | null = node()) {
  const clock = new ManualClock();
  let n = 0;
  const engine = new SchedulerEngine({ clock, newId: () => `id${++n}`, ...opts });
  const batches: (readonly Change[])[] = [];
  engine.onChange((b) => batches.push(b));
  if (inv) engine.onSnapshot(inv);
  const kinds = () => batches.flat().map((c) => c.kind);
  const clear = () => void batches.splice(0);
  return { clock, engine, batches, kinds, clear };
}

describe('submit', () => {
  it('grants what fits at once, as one batch: request_granted, allocation_granted', () => {
    const { engine, batches, clock } = setup();
    const r = engine.submit({ owner: 'ana', resources: { cpu: 2000, gpus: 1 }, labels: { job: 'train' } });
    expect(r.replayed).toBe(false);
    expect(r.request).toMatchObject({ owner: 'ana', priority: 0, preemptible: false, status: 'granted', allocationId: r.allocation!.id, submittedAt: clock.now() });
    expect(r.allocation).toMatchObject({ requestId: r.request.id, node: 'n1', gpuIndices: [0], state: 'active', grantedAt: clock.now(), leaseExpiresAt: clock.now() + 10 * MIN });
    expect(batches.at(-1)!.map((c) => c.kind)).toEqual(['request_granted', 'allocation_granted']);
    expect(engine.free()).toMatchObject({ cpu: 6000 });
  });

  it('queues what does not fit, with an open conflict: request_queued, conflict_opened', () => {
    const { engine, batches } = setup();
    engine.submit({ owner: 'a', resources: { gpus: 2 } });
    const r = engine.submit({ owner: 'b', resources: { gpus: 1 } });
    expect(r.request.status).toBe('queued');
    // severity 2: one GPU of two is half the node (size +1)
    expect(r.conflict).toMatchObject({ type: 'resource_competition', requestId: r.request.id, status: 'open', resource: 'gpu', severity: 2 });
    expect(batches.at(-1)!.map((c) => c.kind)).toEqual(['request_queued', 'conflict_opened']);
    expect(engine.listQueue('fifo', 10).items.map((e) => e.request.id)).toEqual([r.request.id]);
  });

  it('detects a request that can never fit: never_fits (422) with the reason', () => {
    const { engine, kinds } = setup();
    const e = schedulerError(() => engine.submit({ owner: 'a', resources: { gpus: 3 } }));
    expect([e.code, e.status]).toEqual(['never_fits', 422]);
    expect(e.message).toBe('needs 3 whole GPU(s); the node has 2');
    expect(engine.neverFits({ cpu: 0, memoryMiB: 0, gpus: 0, gpuMemMiB: 32 * GiB })).toMatch(/largest GPU has 16384 MiB/);
    expect(kinds()).toEqual([]);
  });

  it('queues (does not reject) while the capacity it needs is not known yet, and grants once it is', () => {
    const { engine } = setup({}, null);
    const r = engine.submit({ owner: 'a', resources: { gpus: 1 } });
    expect(r.conflict!.message).toMatch(/capacity/);
    const changes = engine.onSnapshot(node());
    expect(changes.map((c) => c.kind)).toEqual(['request_granted', 'allocation_granted', 'conflict_resolved']);
    expect(engine.request(r.request.id)!.status).toBe('granted');
  });

  it('is idempotent by key: a retry returns the first request (current state); another body with the key is a conflict', () => {
    const { engine, kinds, clear } = setup();
    const body = { owner: 'a', resources: { gpus: 1, cpu: 100 } };
    const first = engine.submit(body, { idempotencyKey: 'k1' });
    clear();
    const again = engine.submit({ resources: { cpu: 100, gpus: 1 }, owner: 'a' }, { idempotencyKey: 'k1' });
    expect(again).toEqual({ ...first, replayed: true });
    expect(kinds()).toEqual([]);
    expect(engine.listRequests()).toHaveLength(1);
    const e = schedulerError(() => engine.submit({ ...body, priority: 3 }, { idempotencyKey: 'k1' }));
    expect([e.code, e.status]).toEqual(['idempotency_conflict', 409]);
    // after release the retry still names the same request, now released
    engine.release(first.allocation!.id);
    expect(engine.submit(body, { idempotencyKey: 'k1' })).toMatchObject({ replayed: true, request: { id: first.request.id, status: 'released' } });
    expect(engine.submit(body, { idempotencyKey: 'k2' }).request.id).not.toBe(first.request.id);
  });
});

describe('fractional GPUs through the engine', () => {
  it('two 8 GiB requests share one 16 GiB GPU and a whole-GPU request takes the other', () => {
    const { engine } = setup();
    const a = engine.submit({ owner: 'a', resources: { gpuMemMiB: 8 * GiB } });
    const b = engine.submit({ owner: 'b', resources: { gpus: 1, gpuMemMiB: 8 * GiB } });
    const w = engine.submit({ owner: 'c', resources: { gpus: 1 } });
    expect([a.allocation!.gpuIndices, b.allocation!.gpuIndices, w.allocation!.gpuIndices]).toEqual([[0], [0], [1]]);
    // neither a whole GPU nor another share is left
    expect(engine.submit({ owner: 'd', resources: { gpus: 1 } }).request.status).toBe('queued');
    expect(engine.submit({ owner: 'd', resources: { gpuMemMiB: 1 } }).request.status).toBe('queued');
  });
});

describe('conflicts', () => {
  it('priority_conflict when only lower-priority holders are in the way, resource_competition otherwise', () => {
    const { engine } = setup();
    const low = engine.submit({ owner: 'low', priority: 1, resources: { gpus: 1 } });
    const high = engine.submit({ owner: 'high', priority: 10, resources: { gpus: 1 } });
    const urgent = engine.submit({ owner: 'u', priority: 5, resources: { gpus: 1 } });
    expect(urgent.conflict).toMatchObject({ type: 'priority_conflict', resource: 'gpu' });
    expect(urgent.conflict!.holders).toEqual([{ kind: 'allocation', allocationId: low.allocation!.id, requestId: low.request.id, owner: 'low', priority: 1, gpuIndices: [0], node: 'n1' }]);
    expect(urgent.conflict!.message).toMatch(/lower-priority/);
    const both = engine.submit({ owner: 'u', priority: 5, resources: { gpus: 2 } });
    expect(both.conflict).toMatchObject({ type: 'resource_competition' });
    expect(both.conflict!.holders.map((h) => h.kind === 'allocation' && h.allocationId).sort()).toEqual([low.allocation!.id, high.allocation!.id].sort());
    const peer = engine.submit({ owner: 'p', priority: 1, resources: { gpus: 1 } });
    expect(peer.conflict!.type).toBe('resource_competition'); // equal priority is not lower
  });

  it('follows the ledger: when a holder goes, the waiting conflicts are re-evaluated (type and holders)', () => {
    const { engine } = setup();
    const high = engine.submit({ owner: 'high', priority: 9, resources: { gpus: 1 } });
    const low = engine.submit({ owner: 'low', priority: 0, resources: { gpus: 1 } });
    const wait = engine.submit({ owner: 'w', priority: 5, resources: { gpus: 2 } });
    expect(wait.conflict!.type).toBe('resource_competition');
    expect(wait.conflict!.holders).toHaveLength(2);
    const changes = engine.release(high.allocation!.id) && engine.conflict(wait.conflict!.id)!;
    expect(changes).toMatchObject({ type: 'priority_conflict', status: 'open' });
    expect(changes.holders.map((h) => h.kind === 'allocation' && h.allocationId)).toEqual([low.allocation!.id]);
  });

  it('schedule_conflict for unmanaged usage of a GPU; cleared when it goes', () => {
    const { engine, clock } = setup({}, null);
    const procs = (gpuIndex: number): GpuProcess[] => [{
      pid: 4242, name: 'python', type: 'C', usedMemoryMiB: 2 * GiB, gpuUuid: `GPU-${gpuIndex}`, gpuIndex, gpuInstanceId: null, computeInstanceId: null, user: 'bob', containerId: null,
    }];
    const snap = (withProc: boolean): ResourceStatus => ({
      node: 'n1', sampledAt: clock.now(), sources: {}, host: fakeHostSample(1, clock.now()), containers: [], health: 'healthy',
      gpus: [fakeGpu(0, { processes: withProc ? procs(0) : [] }), fakeGpu(1)],
    });
    const held = engine.submit({ owner: 'a', resources: { gpus: 1 } }); // waits for capacity
    engine.onSnapshot(inventoryFrom(snap(false)));
    expect(engine.allocation(engine.request(held.request.id)!.allocationId!)!.gpuIndices).toEqual([0]);

    const changes = engine.onSnapshot(inventoryFrom(snap(true)));
    const opened = changes.find((c) => c.kind === 'conflict_opened');
    expect(opened && opened.kind === 'conflict_opened' && opened.conflict).toMatchObject({
      type: 'schedule_conflict', key: 'unmanaged:gpu:0', resource: 'gpu:0', requestId: held.request.id, severity: 3,
      holders: [{ kind: 'process', pid: 4242, gpuIndex: 0, usedMemoryMiB: 2 * GiB, allocationId: null }],
    });
    // the unmanaged process takes GPU 0 away from the free pool: a 15 GiB share no longer fits there
    expect(engine.free().gpus[0]).toMatchObject({ foreign: 1 });
    // the same picture again: no new record
    expect(engine.onSnapshot(inventoryFrom(snap(true)))).toEqual([]);
    const cleared = engine.onSnapshot(inventoryFrom(snap(false)));
    expect(cleared.map((c) => c.kind === 'conflict_resolved' && c.conflict.resolution)).toEqual(['cleared']);
    expect(engine.openConflicts()).toEqual([]);
  });

  it('schedule_conflict for an expired lease still in use; its GPU counts as taken until the process goes', async () => {
    const { engine, clock } = setup({}, null);
    let owned: { allocationId: string | null } = { allocationId: null };
    const snap = (running: boolean): ResourceStatus => ({
      node: 'n1', sampledAt: clock.now(), sources: {}, host: fakeHostSample(1, clock.now()), containers: [], health: 'healthy',
      gpus: [fakeGpu(0, {
        processes: running ? [{ pid: 7, name: 'train', type: 'C', usedMemoryMiB: 1000, gpuUuid: 'GPU-0', gpuIndex: 0, gpuInstanceId: null, computeInstanceId: null, user: null, containerId: null }] : [],
      })],
    });
    const ownerOf = ({ pid }: { pid: number | null }) => (pid === 7 ? owned.allocationId : null);
    engine.onSnapshot(inventoryFrom(snap(false), undefined, { ownerOf }));
    const a = engine.submit({ owner: 'a', resources: { gpus: 1 }, leaseMs: MIN }).allocation!;
    owned = { allocationId: a.id };
    expect(engine.onSnapshot(inventoryFrom(snap(true), undefined, { ownerOf }))).toEqual([]); // managed: fine
    const next = engine.submit({ owner: 'b', resources: { gpus: 1 } });
    await clock.advance(MIN);
    const expired = engine.expireLeases();
    expect(expired.map((c) => c.kind)).toContain('allocation_expired');
    // the process still runs under the ended allocation: the GPU is not handed out, and reality disagrees
    const changes = engine.onSnapshot(inventoryFrom(snap(true), undefined, { ownerOf }));
    expect(engine.request(next.request.id)!.status).toBe('queued');
    const opened = [...expired, ...changes].find((c) => c.kind === 'conflict_opened' && c.conflict.type === 'schedule_conflict');
    expect(opened && opened.kind === 'conflict_opened' && opened.conflict).toMatchObject({ key: `lease:${a.id}`, requestId: a.requestId, resource: 'gpu:0' });
    expect(opened && opened.kind === 'conflict_opened' && opened.conflict.message).toMatch(/lease expired/);
    // the process exits: cleared, and the waiting request gets the GPU
    const after = engine.onSnapshot(inventoryFrom(snap(false), undefined, { ownerOf }));
    expect(after.map((c) => c.kind)).toEqual(['conflict_resolved', 'request_granted', 'allocation_granted', 'conflict_resolved']);
  });
});

describe('leases', () => {
  it('expiry releases the allocation and lets the queue move, in priority then age order', async () => {
    const { engine, clock } = setup({ leases: { defaultMs: 5 * MIN, maxMs: 60 * MIN } });
    const a = engine.submit({ owner: 'a', resources: { gpus: 2 } });
    const old = engine.submit({ owner: 'old', resources: { gpus: 1 } });
    await clock.advance(1000);
    const young = engine.submit({ owner: 'young', resources: { gpus: 1 } });
    const vip = engine.submit({ owner: 'vip', priority: 3, resources: { gpus: 1 } });
    expect(engine.nextLeaseExpiry()).toBe(a.allocation!.leaseExpiresAt);
    await clock.advance(5 * MIN - 1001);
    expect(engine.expireLeases()).toEqual([]);
    await clock.advance(1);
    const changes = engine.expireLeases();
    expect(changes[0]).toMatchObject({ kind: 'allocation_expired', allocation: { id: a.allocation!.id, state: 'expired', endedAt: clock.now() }, request: { status: 'expired' } });
    expect(engine.request(vip.request.id)!.status).toBe('granted');
    expect(engine.request(old.request.id)!.status).toBe('granted');
    expect(engine.request(young.request.id)!.status).toBe('queued');
    expect(changes.filter((c) => c.kind === 'conflict_resolved').map((c) => c.kind === 'conflict_resolved' && c.conflict.resolution)).toEqual(['granted', 'granted']);
  });

  it('renew extends the lease from now (cut to the maximum); tick expires what is due', async () => {
    const { engine, clock } = setup({ leases: { defaultMs: 10 * MIN, maxMs: 30 * MIN } });
    const a = engine.submit({ owner: 'a', resources: { cpu: 1000 } }).allocation!;
    await clock.advance(9 * MIN);
    const renewed = engine.renew(a.id);
    expect(renewed.leaseExpiresAt).toBe(clock.now() + 10 * MIN);
    expect(engine.renew(a.id, 2 * 60 * MIN).leaseExpiresAt).toBe(clock.now() + 30 * MIN);
    await clock.advance(29 * MIN);
    expect(engine.tick().map((c) => c.kind)).toEqual([]);
    await clock.advance(MIN);
    expect(engine.tick().map((c) => c.kind)).toEqual(['allocation_expired']);
    expect(engine.allocation(a.id)!.state).toBe('expired');
  });

  it('a lease asked for longer than the maximum is cut to it; a request lease is used on renew', async () => {
    const { engine, clock } = setup({ leases: { defaultMs: MIN, maxMs: 10 * MIN } });
    const a = engine.submit({ owner: 'a', leaseMs: 60 * MIN, resources: { cpu: 1 } }).allocation!;
    expect(a.leaseExpiresAt - a.grantedAt).toBe(10 * MIN);
    const b = engine.submit({ owner: 'b', leaseMs: 5 * MIN, resources: { cpu: 1 } }).allocation!;
    await clock.advance(MIN);
    expect(engine.renew(b.id).leaseExpiresAt).toBe(clock.now() + 5 * MIN);
  });

  it('renewing a lease already past its end expires it and fails; renewing an ended one fails; unknown is not_found', async () => {
    const { engine, clock } = setup({ autoDecide: false });
    const a = engine.submit({ owner: 'a', resources: { cpu: 1 }, leaseMs: 1000 }).allocation!;
    await clock.advance(1000);
    const e = schedulerError(() => engine.renew(a.id));
    expect([e.code, e.status]).toEqual(['invalid_state', 409]);
    expect(engine.allocation(a.id)!.state).toBe('expired');
    expect(schedulerError(() => engine.renew(a.id)).message).toMatch(/is expired/);
    expect(schedulerError(() => engine.renew('nope')).code).toBe('not_found');
    expect(schedulerError(() => engine.release(a.id)).code).toBe('invalid_state');
  });

  it('rejects inconsistent lease options naming both values', () => {
    expect(() => new SchedulerEngine({ clock: new ManualClock(), leases: { defaultMs: 20, maxMs: 10 } })).toThrow('lease default (20 ms) must not exceed the lease maximum (10 ms)');
  });
});

describe('release and cancel', () => {
  it('release frees the resources, ends the request and grants what waits; releasing twice returns it', () => {
    const { engine, batches } = setup();
    const a = engine.submit({ owner: 'a', resources: { gpus: 2 } });
    const w = engine.submit({ owner: 'w', resources: { gpus: 1 } });
    const released = engine.release(a.allocation!.id);
    expect(released).toMatchObject({ state: 'released' });
    expect(batches.at(-1)!.map((c) => c.kind)).toEqual(['allocation_released', 'request_granted', 'allocation_granted', 'conflict_resolved']);
    expect(engine.request(a.request.id)!.status).toBe('released');
    expect(engine.request(w.request.id)!.status).toBe('granted');
    expect(engine.release(a.allocation!.id)).toBe(released);
    expect(schedulerError(() => engine.release('nope')).status).toBe(404);
  });

  it('cancel ends a waiting request and resolves its conflict; a granted one is invalid_state', () => {
    const { engine, batches } = setup();
    const a = engine.submit({ owner: 'a', resources: { gpus: 2 } });
    const w = engine.submit({ owner: 'w', resources: { gpus: 1 } });
    const cancelled = engine.cancel(w.request.id);
    expect(cancelled.status).toBe('cancelled');
    const batch = batches.at(-1)!;
    expect(batch.map((c) => c.kind)).toEqual(['conflict_resolved', 'request_cancelled']);
    expect(batch[0]).toMatchObject({ conflict: { id: w.conflict!.id, resolution: 'cancelled' } });
    expect(engine.queueSize).toBe(0);
    expect(engine.cancel(w.request.id)).toBe(cancelled);
    const e = schedulerError(() => engine.cancel(a.request.id));
    expect([e.code, e.status]).toEqual(['invalid_state', 409]);
    expect(e.message).toMatch(/release allocation/);
    expect(schedulerError(() => engine.cancel('nope')).code).toBe('not_found');
  });
});

describe('severity and the priority view of the queue', () => {
  it('grows with waiting, on tick, and reorders the priority view', async () => {
    const { engine, clock } = setup({}, node(4));
    engine.submit({ owner: 'a', leaseMs: 6 * 60 * MIN, resources: { gpus: 4 } });
    const old = engine.submit({ owner: 'old', resources: { gpus: 1 } });
    expect(old.conflict!.severity).toBe(1);
    await clock.advance(9.5 * MIN);
    expect(engine.tick().map((c) => c.kind === 'conflict_updated' && [c.conflict.requestId, c.conflict.severity])).toEqual([[old.request.id, 2]]);
    const vip = engine.submit({ owner: 'vip', priority: 5, resources: { gpus: 1 } });
    expect(vip.conflict!.severity).toBe(2);
    // same severity: the higher priority first; FIFO keeps arrival order
    expect(engine.listQueue('priority', 5).items.map((e) => e.request.owner)).toEqual(['vip', 'old']);
    expect(engine.listQueue('fifo', 5).items.map((e) => e.request.owner)).toEqual(['old', 'vip']);
    await clock.advance(0.5 * MIN);
    expect(engine.tick().map((c) => c.kind === 'conflict_updated' && [c.conflict.requestId, c.conflict.severity])).toEqual([[old.request.id, 3]]);
    expect(engine.listQueue('priority', 5).items.map((e) => [e.request.owner, e.conflict!.severity])).toEqual([['old', 3], ['vip', 2]]);
    await clock.advance(60 * MIN);
    engine.tick();
    expect(engine.listQueue('priority', 5).items.map((e) => [e.request.owner, e.conflict!.severity])).toEqual([['vip', 5], ['old', 4]]);
  });

  it('a bounded refresh budget brings every conflict up to date over the next ticks', () => {
    const { engine } = setup({ refreshBudget: 4 }); // an evaluation and an update each count: two requests per pass
    const hog = engine.submit({ owner: 'hog', resources: { gpus: 1 } });
    const other = engine.submit({ owner: 'other', resources: { gpus: 1 } });
    const waiting = Array.from({ length: 5 }, (_, i) => engine.submit({ owner: `w${i}`, priority: i, resources: { gpus: 2 } }));
    const holdersOf = (r: (typeof waiting)[number]) => engine.conflict(r.conflict!.id)!.holders.map((h) => h.kind === 'allocation' && h.owner);
    expect(waiting.map(holdersOf)).toEqual(waiting.map(() => ['hog', 'other']));
    engine.release(other.allocation!.id);
    // grant order: highest priority first; only two were refreshed in the release's pass
    expect(waiting.map(holdersOf)).toEqual([['hog', 'other'], ['hog', 'other'], ['hog', 'other'], ['hog'], ['hog']]);
    engine.tick();
    engine.tick();
    expect(waiting.map(holdersOf)).toEqual(waiting.map(() => ['hog']));
    expect(hog.allocation!.state).toBe('active');
  });
});

describe('strategy', () => {
  it('is priority_based by default; switching is a change record and takes effect at once', () => {
    const { engine } = setup();
    expect(engine.strategyName).toBe('priority_based');
    const changes = engine.setStrategy(Object.assign(createStrategy('fair_sharing'), {
      effectivePriority: (r: Request) => -r.priority, order: (q: QueueView) => [...q.requests()], place: () => null,
    }) as Strategy);
    expect(changes).toEqual([{ kind: 'strategy_changed', at: expect.any(Number), strategy: 'fair_sharing', previous: 'priority_based', config: createStrategy('fair_sharing').config }]);
    expect(engine.submit({ owner: 'a', resources: { cpu: 1 } }).request.status).toBe('queued');
  });
});

describe('restore', () => {
  /** What the store would hold: the latest version of each entity, from the change records. */
  function store(engine: SchedulerEngine) {
    const requests = new Map<string, Request>();
    const allocations = new Map<string, Allocation>();
    const conflicts = new Map<string, Conflict>();
    engine.onChange((batch) => {
      for (const c of batch) {
        if ('request' in c) requests.set(c.request.id, c.request);
        if ('allocation' in c) allocations.set(c.allocation.id, c.allocation);
        if ('conflict' in c) conflicts.set(c.conflict.id, c.conflict);
      }
    });
    return (): EngineState => ({ requests: [...requests.values()], allocations: [...allocations.values()], conflicts: [...conflicts.values()] });
  }

  it('rebuilds requests, allocations, queue and conflicts; expires leases that ended while down; the queue moves', async () => {
    const clock = new ManualClock();
    let n = 0;
    const newId = () => `id${++n}`;
    const first = new SchedulerEngine({ clock, newId });
    const state = store(first);
    first.onSnapshot(node());
    const short = first.submit({ owner: 'short', leaseMs: MIN, resources: { gpus: 1 } });
    const long = first.submit({ owner: 'long', leaseMs: 60 * MIN, resources: { gpus: 1 } });
    const waiting = first.submit({ owner: 'w', priority: 2, resources: { gpus: 1 } }, { idempotencyKey: 'job-7' });
    const cancelled = first.submit({ owner: 'c', resources: { gpus: 1 } });
    first.cancel(cancelled.request.id);
    const saved = state();

    // down for 2 minutes: the short lease ended meanwhile
    await clock.advance(2 * MIN);
    const second = new SchedulerEngine({ clock, newId });
    const restored = second.restore(saved);
    expect(restored.map((c) => c.kind)).toEqual(['allocation_expired']);
    expect(second.allocation(short.allocation!.id)!.state).toBe('expired');
    expect(second.allocation(long.allocation!.id)!.state).toBe('active');
    // the waiting request keeps its conflict; the capacity is not known before the first snapshot
    expect(second.listQueue('fifo', 10).items.map((e) => [e.request.id, e.conflict!.id])).toEqual([[waiting.request.id, waiting.conflict!.id]]);
    expect(second.request(cancelled.request.id)!.status).toBe('cancelled');
    // the first snapshot: GPU 0 is free again and the waiting request gets it
    const changes = second.onSnapshot(node());
    expect(changes.map((c) => c.kind)).toEqual(['request_granted', 'allocation_granted', 'conflict_resolved']);
    expect(second.allocation(second.request(waiting.request.id)!.allocationId!)!.gpuIndices).toEqual([0]);
    // GPU 1 is still booked to the long allocation
    expect(second.free().gpus.map((g) => g.wholeFree)).toEqual([false, false]);
    // the idempotency key survives the restart
    expect(second.submit({ owner: 'w', priority: 2, resources: { gpus: 1 } }, { idempotencyKey: 'job-7' })).toMatchObject({ replayed: true, request: { id: waiting.request.id } });
    expect(() => second.restore(saved)).toThrow(/empty engine/);
  });

  it('resolves an open request conflict whose request no longer waits, and opens one for a waiting request without', () => {
    const clock = new ManualClock();
    const engine = new SchedulerEngine({ clock, newId: (() => { let i = 0; return () => `x${++i}`; })() });
    const t = clock.now();
    const base = { owner: 'o', priority: 0, preemptible: false, resources: { cpu: 1, memoryMiB: 0, gpus: 0 }, submittedAt: t, updatedAt: t };
    const changes = engine.restore({
      requests: [{ ...base, id: 'gone', status: 'cancelled' }, { ...base, id: 'q', status: 'queued' }],
      allocations: [],
      conflicts: [{ id: 'c1', key: 'request:gone', type: 'resource_competition', severity: 1, requestId: 'gone', holders: [], resource: 'cpu', message: '', openedAt: t, updatedAt: t, status: 'open' }],
    });
    expect(changes.map((c) => c.kind === 'conflict_resolved' ? `resolved ${c.conflict.id} ${c.conflict.resolution}` : c.kind)).toEqual(['conflict_opened', 'resolved c1 cleared']);
    expect(engine.listQueue('fifo', 5).items[0]!.conflict!.requestId).toBe('q');
  });
});

describe('listeners', () => {
  it('get one batch per operation; a throwing listener does not break the engine', () => {
    const errors: unknown[] = [];
    const { engine, batches } = setup({ onListenerError: (e) => errors.push(e) });
    engine.onChange(() => {
      throw new Error('boom');
    });
    const r = engine.submit({ owner: 'a', resources: { cpu: 1 } });
    expect(r.request.status).toBe('granted');
    expect(errors).toHaveLength(1);
    expect(batches.at(-1)!.map((c) => c.kind)).toEqual(['request_granted', 'allocation_granted']);
  });
});
