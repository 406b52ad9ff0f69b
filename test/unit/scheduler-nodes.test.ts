/**
 * The engine over several nodes, one of which may stop reporting: every strategy places across nodes; an unreachable
 * node places nothing, keeps its allocations (flagged, their leases held, notices withdrawn) and has a conflict open
 * until it is back; back, it is reconciled with the ledger (missing GPUs, overcommit); unmanaged GPU users per node;
 * allocations restored onto a node that has not reported yet (pending); removing a node. ManualClock, fixed ids.
 */
import { describe, expect, it } from 'vitest';
import { ManualClock } from '../../server/clock.ts';
import { SchedulerEngine, type EngineState } from '../../server/scheduler/engine.ts';
import type { Inventory } from '../../server/scheduler/inventory.ts';
import { createStrategy } from '../../server/scheduler/strategies/index.ts';
import type { Allocation, Change, Conflict, Request, StrategyName } from '../../shared/scheduler.ts';
import { HOUR, MIN, T0, gpuNode, schedulerError, sim, type Body } from '../helpers/cluster.ts';

const gpu = (owner: string, n = 1, extra: Partial<Body> = {}): Body => ({ owner, resources: { gpus: n }, ...extra });
const STRATEGIES: StrategyName[] = ['priority_based', 'fair_sharing', 'time_slicing', 'resource_pooling', 'load_balancing', 'hybrid'];

/** Conflict records of a batch, as `opened <key>` / `updated <key>` / `resolved <key> <resolution>`. */
function conflictLog(changes: readonly Change[]): string[] {
  const out: string[] = [];
  for (const c of changes) {
    if (c.kind === 'conflict_opened') out.push(`opened ${c.conflict.key}`);
    else if (c.kind === 'conflict_updated') out.push(`updated ${c.conflict.key}`);
    else if (c.kind === 'conflict_resolved') out.push(`resolved ${c.conflict.key} ${c.conflict.resolution}`);
  }
  return out;
}

function openSchedule(engine: SchedulerEngine, key: string): Conflict | undefined {
  return engine.openConflicts().find((c) => c.key === key);
}

/** A GPU user without an allocation on GPU 0 of `inv`. */
function unmanagedOn(inv: Inventory, pid: number): Inventory {
  return {
    ...inv,
    gpus: inv.gpus!.map((g) => (g.index === 0 ? { ...g, usages: [{ pid, containerId: null, name: 'python', gpuIndex: 0, usedMemoryMiB: 1024, allocationId: null }] } : g)),
  };
}

/** What the store would hold after each batch: the latest version of every entity. */
function storeOf(engine: SchedulerEngine): () => EngineState {
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
  return () => ({ requests: [...requests.values()], allocations: [...allocations.values()], conflicts: [...conflicts.values()] });
}

describe('placement across nodes', () => {
  it.each(STRATEGIES)('%s places on 3 nodes, naming the node and the GPU indices of every allocation', (name) => {
    const s = sim({ strategy: createStrategy(name), nodes: [gpuNode('a', 2), gpuNode('b', 2), gpuNode('c', 2)] });
    for (let i = 0; i < 6; i++) s.submit(`r${i}`, { owner: `o${i % 3}`, resources: { cpu: 1000, gpus: 1 } });
    const where = Array.from({ length: 6 }, (_, i) => s.where(`r${i}`));
    // six 1-GPU requests on 3 × 2 GPUs: each GPU of each node once
    expect([...where].sort()).toEqual(['a[0]', 'a[1]', 'b[0]', 'b[1]', 'c[0]', 'c[1]']);
    expect(s.engine.nodeViews().map((n) => [n.name, n.state, n.allocated.gpus, n.allocated.cpu])).toEqual([
      ['a', 'reachable', 2, 2000], ['b', 'reachable', 2, 2000], ['c', 'reachable', 2, 2000],
    ]);
    // the cluster is full: the seventh waits
    expect(s.submit('r6', gpu('o0')).request.status).toBe('queued');
  });
});

describe('an unreachable node', () => {
  /** a: 1 GPU (x), b: 2 GPUs (y, preemptible, on GPU 0); b stops reporting at 10 s. */
  async function bDown() {
    const s = sim({ strategy: createStrategy('priority_based'), nodes: [gpuNode('a', 1), gpuNode('b', 2)] });
    s.submit('x', gpu('x'));
    s.submit('y', gpu('y', 1, { preemptible: true }));
    expect([s.where('x'), s.where('y')]).toEqual(['a[0]', 'b[0]']);
    await s.at(10);
    const changes = s.engine.setNodeReachable('b', false);
    return { s, changes };
  }

  it('keeps its allocations, flagged, and opens unreachable:<node> naming them', async () => {
    const { s, changes } = await bDown();
    expect(s.log(changes)).toEqual(['flagged y']);
    expect(conflictLog(changes)).toEqual(['opened unreachable:b']);
    expect(s.allocation('y')).toMatchObject({ state: 'active', node: 'b', unreachableSince: T0 + 10_000 });
    const c = openSchedule(s.engine, 'unreachable:b')!;
    // severity 1 + 2 (it touches an allocation)
    expect(c).toMatchObject({ type: 'schedule_conflict', node: 'b', resource: 'node:b', requestId: null, severity: 3 });
    expect(c.holders).toEqual([{ kind: 'allocation', allocationId: s.allocation('y')!.id, requestId: s.id('y'), owner: 'y', priority: 0, gpuIndices: [0], node: 'b' }]);
    expect(s.engine.nodeViews().find((n) => n.name === 'b')).toMatchObject({
      state: 'unreachable', unreachableSince: T0 + 10_000, capacity: { gpus: 2 }, allocated: { gpus: 1, allocations: 1 },
    });
    // saying it again changes nothing
    expect(s.engine.setNodeReachable('b', false)).toEqual([]);
    // no strategy resolves it: the node comes back, or its allocations go
    expect(schedulerError(() => s.engine.resolveConflict(c.id)).message).toMatch(/: bring the node back, or release its allocations and remove it$/);
  });

  it('places nothing there, and neither its holders nor its free GPU are in the way or victims', async () => {
    const { s } = await bDown();
    // b has a free GPU, yet z waits for x on a
    const z = s.submit('z', gpu('z'));
    expect(z.request.status).toBe('queued');
    expect(z.conflict!.holders.map((h) => h.kind === 'allocation' && [h.allocationId, h.node])).toEqual([[s.allocation('x')!.id, 'a']]);
    // only b could take two GPUs; y there is preemptible and of lower priority, but b cannot be reached
    const w = s.submit('w', gpu('w', 2, { priority: 10 }));
    expect(w.conflict!.message).toBe('needs 2 whole GPU(s): no reachable node can take it (not reachable: b)');
    expect(await s.tickAt(20)).toEqual([]);
    expect(await s.tickAt(100)).toEqual([]);
    expect([s.status('y'), s.status('z'), s.status('w')]).toEqual(['granted', 'queued', 'queued']);
    expect(s.engine.fragmentation()).toBeNull(); // what is free is on b only
  });

  it('reachable again: the flags clear, the conflict clears, and the node places again', async () => {
    const { s } = await bDown();
    s.submit('z', gpu('z'));
    await s.at(30);
    const back = s.engine.setNodeReachable('b', true);
    expect(s.log(back)).toEqual(['unflagged y', 'granted z b[1]', 'resolved z granted']);
    expect(conflictLog(back)).toEqual(['resolved unreachable:b cleared', 'resolved request:' + s.id('z') + ' granted']);
    expect(s.allocation('y')).toMatchObject({ state: 'active', unreachableSince: null });
    expect(s.engine.nodeViews().find((n) => n.name === 'b')).toMatchObject({ state: 'reachable', unreachableSince: null });
  });

  it('ends none of its allocations by the clock: a lease end is held (renewable), and takes effect when it is back', async () => {
    const s = sim({
      strategy: createStrategy('priority_based'), nodes: [gpuNode('a', 1), gpuNode('b', 2)],
      engine: { leases: { defaultMs: MIN, maxMs: HOUR } },
    });
    s.submit('x', gpu('x', 1, { leaseMs: HOUR }));
    s.submit('y', gpu('y')); // b[0], lease until 60 s
    s.submit('v', gpu('v')); // b[1], lease until 60 s
    await s.at(10);
    s.engine.setNodeReachable('b', false);
    expect(await s.tickAt(61)).toEqual([]);
    expect([s.status('y'), s.status('v')]).toEqual(['granted', 'granted']);
    // the held lease ends are out of the timed work: the next wakeup is x's lease end
    expect(s.engine.nextWakeup()).toBe(T0 + HOUR);
    // v's holder renews meanwhile: until 70 s + 60 s
    await s.at(70);
    expect(s.engine.renew(s.allocation('v')!.id).leaseExpiresAt).toBe(T0 + 130_000);
    await s.at(90);
    expect(s.step(() => s.engine.setNodeReachable('b', true))).toEqual(['unflagged y', 'unflagged v', 'expired y']);
    expect(await s.tickAt(129)).toEqual([]);
    expect(await s.tickAt(130)).toEqual(['expired v']);
  });

  it('withdraws the preemption notices given there (its request may look elsewhere)', async () => {
    const s = sim({ strategy: createStrategy('priority_based'), nodes: [gpuNode('a', 1), gpuNode('b', 1)] });
    s.submit('x', gpu('x', 1, { priority: 5 }));
    s.submit('y', gpu('y', 1, { preemptible: true }));
    s.submit('r', gpu('r', 1, { priority: 6 }));
    // grace 30 s: y's resources would be taken at 31 s
    expect(await s.tickAt(1)).toEqual(['notice y at 31s']);
    await s.at(5);
    expect(s.step(() => s.engine.setNodeReachable('b', false))).toEqual(['withdrawn y', 'flagged y']);
    expect(s.allocation('y')).not.toHaveProperty('preemptAt');
    expect(await s.tickAt(40)).toEqual([]);
    expect([s.status('y'), s.status('r')]).toEqual(['granted', 'queued']);
  });

  it('sits out time-slice rotations: its holders are neither suspended nor resumed', async () => {
    // thresholds [60 s·GPU], no promotion: at 60 s x and y (60 000 attained, queue 1) rank after z (queue 0)
    const s = sim({
      strategy: createStrategy('time_slicing', { quantumMs: 60_000, queueThresholds: [60_000], starveMinMs: 24 * HOUR }),
      nodes: [gpuNode('a', 1), gpuNode('b', 1)],
    });
    s.submit('x', gpu('x'));
    s.submit('y', gpu('y'));
    s.submit('z', gpu('z'));
    s.engine.setNodeReachable('b', false);
    // the rotation gives a's GPU to z; y on b, as much at risk as x, keeps running untouched
    expect(await s.tickAt(60)).toEqual(['granted z a[0]', 'resolved z granted', 'suspended x']);
    expect(s.allocation('y')).not.toHaveProperty('suspendedAt');
  });
});

describe('reconciling a node that comes back', () => {
  /** a: x on 1 GPU; b: y on both its GPUs with 6 of its 8 cores; b stops reporting, then reports 1 GPU and 4 cores. */
  function bBackSmaller() {
    const s = sim({ strategy: createStrategy('priority_based'), nodes: [gpuNode('a', 1), gpuNode('b', 2)] });
    s.submit('x', gpu('x'));
    s.submit('y', { owner: 'y', resources: { cpu: 6000, gpus: 2 } });
    expect(s.where('y')).toBe('b[0,1]');
    s.engine.setNodeReachable('b', false);
    return s;
  }

  it('opens missing:<node>:gpu:<i> and overcommit:<node> when it is back, and clears them when the state no longer calls for them', () => {
    const s = bBackSmaller();
    // a report while it counts as unreachable: nothing new is concluded yet
    expect(conflictLog(s.engine.onSnapshot(gpuNode('b', 1, { cpu: 4000 })))).toEqual([]);
    const back = s.engine.setNodeReachable('b', true);
    expect(conflictLog(back)).toEqual(['resolved unreachable:b cleared', 'opened missing:b:gpu:1', 'opened overcommit:b']);
    const yAlloc = s.allocation('y')!.id;
    expect(openSchedule(s.engine, 'missing:b:gpu:1')).toMatchObject({
      type: 'schedule_conflict', node: 'b', resource: 'gpu:1', requestId: s.id('y'), severity: 3,
      message: `node b no longer reports GPU 1; allocation(s) ${yAlloc} hold it`,
      holders: [{ kind: 'allocation', allocationId: yAlloc, node: 'b', gpuIndices: [0, 1] }],
    });
    expect(openSchedule(s.engine, 'overcommit:b')).toMatchObject({
      node: 'b', resource: 'cpu', requestId: s.id('y'),
      message: 'the allocations on node b hold 6000 millicores of cpu (it reports 4000)',
    });
    // y goes: reality agrees with the ledger again
    const mark = s.records.length;
    s.engine.release(yAlloc);
    expect(conflictLog(s.records.slice(mark))).toEqual(['resolved missing:b:gpu:1 cleared', 'resolved overcommit:b cleared']);
    expect(s.engine.openConflicts().filter((c) => c.type === 'schedule_conflict')).toEqual([]);
  });

  it('a node back as it was opens nothing', () => {
    const s = bBackSmaller();
    s.engine.onSnapshot(gpuNode('b', 2));
    expect(conflictLog(s.engine.setNodeReachable('b', true))).toEqual(['resolved unreachable:b cleared']);
  });
});

describe('unmanaged GPU users per node', () => {
  it('GPU 0 used on two nodes gives two conflicts: the home node keeps unmanaged:gpu:0, the other is qualified', () => {
    // the sim's engine has no node name: its first inventory (a) names the home node
    const s = sim({ strategy: createStrategy('priority_based'), nodes: [gpuNode('a', 1), gpuNode('b', 1)] });
    s.engine.onSnapshot(unmanagedOn(gpuNode('a', 1), 11));
    s.engine.onSnapshot(unmanagedOn(gpuNode('b', 1), 22));
    const open = s.engine.openConflicts().filter((c) => c.type === 'schedule_conflict');
    expect(open.map((c) => [c.key, c.node, c.resource, c.holders.map((h) => h.kind === 'process' && [h.pid, h.node])])).toEqual([
      ['unmanaged:gpu:0', 'a', 'gpu:0', [[11, 'a']]],
      ['unmanaged:gpu:0@b', 'b', 'gpu:0', [[22, 'b']]],
    ]);
    expect(open[1]!.message).toBe('1 process(es)/container(s) use GPU 0 of node b without an allocation');
    // b's user goes: only its conflict clears
    expect(conflictLog(s.engine.onSnapshot(gpuNode('b', 1)))).toEqual(['resolved unmanaged:gpu:0@b cleared']);
    expect(openSchedule(s.engine, 'unmanaged:gpu:0')).toBeDefined();
  });

  it('a named engine keeps its own name as the home node', () => {
    const engine = new SchedulerEngine({ clock: new ManualClock(T0), node: 'hub' });
    engine.onSnapshot(unmanagedOn(gpuNode('b', 1), 22));
    engine.onSnapshot(unmanagedOn(gpuNode('hub', 1), 11));
    // the hub's own ledger was there from the start; b joined
    expect(engine.nodes()).toEqual(['hub', 'b']);
    expect(engine.openConflicts().map((c) => c.key).sort()).toEqual(['unmanaged:gpu:0', 'unmanaged:gpu:0@b']);
    expect(engine.openConflicts().find((c) => c.key === 'unmanaged:gpu:0')!.node).toBe('hub');
  });
});

describe('restore onto nodes that have not reported yet', () => {
  /** A hub (1 GPU) and node b (2 GPUs); y on b, x (on hub) released: only b holds an allocation when the hub restarts. */
  function hubWithAllocationOnB(clock: ManualClock, newId: () => string) {
    const first = new SchedulerEngine({ clock, newId, node: 'hub' });
    const saved = storeOf(first);
    first.onSnapshot(gpuNode('hub', 1));
    first.onSnapshot(gpuNode('b', 2));
    const x = first.submit({ owner: 'x', resources: { gpus: 1 } });
    const y = first.submit({ owner: 'y', resources: { gpus: 1 } });
    expect([x.allocation!.node, y.allocation!.node]).toEqual(['hub', 'b']);
    first.release(x.allocation!.id);
    return { first, saved, y: y.allocation! };
  }

  it.each([
    ['named', { node: 'hub' }, [['hub', 'reachable', 0], ['b', 'pending', 1]]],
    ['unnamed', {}, [['b', 'pending', 1]]],
  ] as const)('%s engine: the allocation stays on b, pending, when the hub reports (regression: b was renamed to the hub)', (_, named, afterRestore) => {
    const clock = new ManualClock(T0);
    let n = 0;
    const newId = () => `id${++n}`;
    const { saved, y } = hubWithAllocationOnB(clock, newId);
    const second = new SchedulerEngine({ clock, newId, ...named });
    second.restore(saved());
    const view = () => second.nodeViews().map((v) => [v.name, v.state, v.allocated.allocations]);
    expect(view()).toEqual(afterRestore);
    second.onSnapshot(gpuNode('hub', 1));
    expect(view()).toEqual(expect.arrayContaining([['hub', 'reachable', 0], ['b', 'pending', 1]]));
    expect(second.allocation(y.id)).toMatchObject({ node: 'b', state: 'active' });
    expect(second.free('hub').gpus[0]!.wholeFree).toBe(true);
    expect(second.free('b').gpus[0]!.allocations).toBe(1);
    // pending: nothing is placed on b (its capacity is not reported since the restart) and nothing is concluded about it
    expect(second.submit({ owner: 'w', resources: { gpus: 1 } }).allocation!.node).toBe('hub');
    const v = second.submit({ owner: 'v', resources: { gpus: 1 } });
    expect(v.request.status).toBe('queued');
    expect(second.openConflicts().filter((c) => c.type === 'schedule_conflict')).toEqual([]);
    // b reports: reachable, y still there, v placed beside it
    second.onSnapshot(gpuNode('b', 2));
    expect(view()).toEqual(expect.arrayContaining([['b', 'reachable', 2]]));
    expect(second.allocation(y.id)).toMatchObject({ node: 'b', gpuIndices: [0], state: 'active' });
    expect(second.allocation(second.request(v.request.id)!.allocationId!)).toMatchObject({ node: 'b', gpuIndices: [1] });
  });

  it('allocations flagged before the restart stay flagged while pending; the node’s report settles them', async () => {
    const clock = new ManualClock(T0);
    let n = 0;
    const newId = () => `id${++n}`;
    const { first, saved, y } = hubWithAllocationOnB(clock, newId);
    first.setNodeReachable('b', false);
    const state = saved();
    await clock.advance(MIN);
    const second = new SchedulerEngine({ clock, newId, node: 'hub' });
    second.restore(state);
    second.onSnapshot(gpuNode('hub', 1));
    // nothing is known about b yet: its conflict stays open, its allocation flagged
    expect(second.allocation(y.id)!.unreachableSince).toBe(T0);
    expect(openSchedule(second, 'unreachable:b')).toBeDefined();
    const settled = second.onSnapshot(gpuNode('b', 2));
    expect(settled.map((c) => c.kind)).toEqual(['allocation_flagged', 'conflict_resolved']);
    expect(second.allocation(y.id)!.unreachableSince).toBeNull();
    expect(openSchedule(second, 'unreachable:b')).toBeUndefined();
  });

  it('a lease that ended while the node could not be reached is not ended by the restart, only once the node reports', async () => {
    const clock = new ManualClock(T0);
    let n = 0;
    const newId = () => `id${++n}`;
    const first = new SchedulerEngine({ clock, newId, node: 'hub', leases: { defaultMs: MIN, maxMs: HOUR } });
    const saved = storeOf(first);
    first.onSnapshot(gpuNode('hub', 1));
    first.onSnapshot(gpuNode('b', 1));
    first.submit({ owner: 'x', resources: { gpus: 1 }, leaseMs: HOUR });
    const y = first.submit({ owner: 'y', resources: { gpus: 1 } }).allocation!; // b, lease until 60 s
    first.setNodeReachable('b', false);
    // the hub is down from 30 s to 2 min; y's lease ends meanwhile
    await clock.advance(30_000);
    const state = saved();
    await clock.advance(90_000);
    const second = new SchedulerEngine({ clock, newId, node: 'hub', leases: { defaultMs: MIN, maxMs: HOUR } });
    expect(second.restore(state)).toEqual([]);
    second.onSnapshot(gpuNode('hub', 1));
    expect(second.tick().map((c) => c.kind)).not.toContain('allocation_expired');
    expect(second.allocation(y.id)!.state).toBe('active');
    // b reports: the flag clears and the lease end, long due, takes effect
    expect(second.onSnapshot(gpuNode('b', 1)).map((c) => c.kind)).toEqual(['allocation_flagged', 'allocation_expired', 'conflict_resolved']);
    expect(second.allocation(y.id)).toMatchObject({ state: 'expired', unreachableSince: null });
  });

  it('a pending node declared unreachable keeps the flags it had, and its time', async () => {
    const clock = new ManualClock(T0);
    let n = 0;
    const newId = () => `id${++n}`;
    const { first, saved, y } = hubWithAllocationOnB(clock, newId);
    first.setNodeReachable('b', false);
    const state = saved();
    await clock.advance(MIN);
    const second = new SchedulerEngine({ clock, newId, node: 'hub' });
    second.restore(state);
    const changes = second.setNodeReachable('b', false);
    expect(changes.filter((c) => c.kind === 'allocation_flagged')).toEqual([]);
    expect(second.allocation(y.id)!.unreachableSince).toBe(T0);
    expect(second.nodeViews().find((v) => v.name === 'b')).toMatchObject({ state: 'unreachable', unreachableSince: T0 });
  });
});

describe('removeNode, nodes, free', () => {
  it('refuses a node that holds allocations, and the only node; forgets an empty one with its conflicts', () => {
    const s = sim({ strategy: createStrategy('priority_based'), nodes: [gpuNode('a', 1), gpuNode('b', 1)] });
    s.submit('x', gpu('x'));
    s.submit('y', gpu('y'));
    expect(s.engine.nodes()).toEqual(['a', 'b']);
    const held = schedulerError(() => s.engine.removeNode('b'));
    expect([held.code, held.message]).toEqual(['invalid_state', 'node b holds 1 allocation(s): release them before removing it']);
    expect(schedulerError(() => s.engine.removeNode('nope')).code).toBe('not_found');
    expect(schedulerError(() => s.engine.setNodeReachable('nope', false)).code).toBe('not_found');
    s.engine.setNodeReachable('b', false);
    // a release stays possible while the node cannot be reached (an explicit end, not the clock's)
    expect(s.release('y')).toEqual(['released y']);
    expect(conflictLog(s.engine.removeNode('b'))).toEqual(['resolved unreachable:b cleared']);
    expect(s.engine.nodes()).toEqual(['a']);
    expect(s.engine.capacity()).toMatchObject({ gpus: 1 });
    expect(schedulerError(() => s.engine.free('b')).code).toBe('not_found');
    s.release('x');
    expect(schedulerError(() => s.engine.removeNode('a')).message).toBe('node a is the only node');
  });

  it('free() is the home node’s, free(node) any node’s', () => {
    const s = sim({ strategy: createStrategy('priority_based'), nodes: [gpuNode('a', 1), gpuNode('b', 2)] });
    s.submit('x', gpu('x', 2));
    expect(s.where('x')).toBe('b[0,1]');
    expect(s.engine.free().gpus.map((g) => g.wholeFree)).toEqual([true]);
    expect(s.engine.free('b').gpus.map((g) => g.wholeFree)).toEqual([false, false]);
  });
});
