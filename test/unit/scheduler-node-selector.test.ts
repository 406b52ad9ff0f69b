/**
 * A request that names a node (`node`): placed there only, by every strategy, even when other nodes have room; it
 * waits while that node is full (its conflict names that node's holders), is refused (never_fits) for a node not
 * known or too small, takes its preemption victims there only, keeps its own queue key (an unpinned request of the
 * same shape is not held back by it) and survives a restore. Three declared nodes, ManualClock, fixed ids.
 */
import { describe, expect, it } from 'vitest';
import { ManualClock } from '../../server/clock.ts';
import { SchedulerEngine, type EngineState } from '../../server/scheduler/engine.ts';
import { createStrategy } from '../../server/scheduler/strategies/index.ts';
import type { Allocation, Conflict, Request, StrategyName } from '../../shared/scheduler.ts';
import { T0, gpuNode, schedulerError, sim, type Body } from '../helpers/cluster.ts';

const STRATEGIES: StrategyName[] = ['priority_based', 'fair_sharing', 'time_slicing', 'resource_pooling', 'load_balancing', 'hybrid'];
const gpu = (owner: string, n = 1, extra: Partial<Body> = {}): Body => ({ owner, resources: { cpu: 1000, gpus: n }, ...extra });
const threeNodes = () => [gpuNode('a', 2), gpuNode('b', 2), gpuNode('c', 2)];

describe('a request pinned to a node', () => {
  it.each(STRATEGIES)('%s: lands on b though a has room, waits while b is full (its conflict names b) and gets b once it frees', (name) => {
    const s = sim({ strategy: createStrategy(name), nodes: threeNodes() });
    expect(s.submit('x', gpu('x', 1, { node: 'b' })).allocation!.node).toBe('b');
    expect(s.submit('y', gpu('y', 1, { node: 'b' })).allocation!.node).toBe('b');
    expect(s.request('x').node).toBe('b');
    // b is full: z waits, though a and c have every GPU free
    const z = s.submit('z', gpu('z', 1, { node: 'b' }));
    expect(z.request.status).toBe('queued');
    const c = s.engine.openConflicts().find((k) => k.requestId === z.request.id)!;
    // one release on b would do: one of b's holders is named
    expect(c.holders).toHaveLength(1);
    expect(c.holders[0]).toMatchObject({ kind: 'allocation', node: 'b' });
    expect([s.id('x'), s.id('y')]).toContain((c.holders[0] as { requestId: string }).requestId);
    // an unpinned request of the same shape goes elsewhere meanwhile
    expect(s.submit('w', gpu('w')).allocation!.node).not.toBe('b');
    expect(s.status('z')).toBe('queued');
    s.release('x');
    expect(s.where('z')).toMatch(/^b\[/);
  });

  it.each(STRATEGIES)('%s: refuses a node that is not known, and more than its node has, though another node could hold it', (name) => {
    const s = sim({ strategy: createStrategy(name), nodes: [gpuNode('a', 2), gpuNode('b', 2), gpuNode('c', 4)] });
    const unknown = schedulerError(() => s.submit('u', gpu('u', 1, { node: 'n9' })));
    expect([unknown.code, unknown.status, unknown.message]).toEqual(['never_fits', 422, 'node n9 is not known']);
    const big = schedulerError(() => s.submit('v', gpu('v', 3, { node: 'b' })));
    expect([big.code, big.message]).toEqual(['never_fits', 'on node b: needs 3 whole GPU(s); the node has 2']);
    expect(s.engine.neverFits({ cpu: 0, memoryMiB: 0, gpus: 3 }, 'b')).toBe('on node b: needs 3 whole GPU(s); the node has 2');
    expect(s.engine.neverFits({ cpu: 0, memoryMiB: 0, gpus: 3 })).toBeNull();
    // unpinned, the same request fits c
    expect(s.submit('w', gpu('w', 3)).allocation!.node).toBe('c');
    expect(s.engine.listRequests()).toHaveLength(1);
  });

  it('a request waiting for b does not hold back one of the same shape and priority that may go anywhere', () => {
    const s = sim({ strategy: createStrategy('priority_based'), nodes: threeNodes() });
    for (const n of ['a', 'a', 'b', 'b', 'c', 'c']) s.submit(`h${n}${s.engine.listRequests().length}`, gpu('h', 1, { node: n }));
    expect(s.engine.listRequests('granted')).toHaveLength(6);
    // the pinned one first: it is the older of the two waiting with this shape and priority
    s.submit('z', gpu('z', 1, { node: 'b' }));
    s.submit('w', gpu('w'));
    s.release('ha0');
    expect(s.where('w')).toMatch(/^a\[/);
    expect(s.status('z')).toBe('queued');
  });

  it('takes its preemption victims on its node only, not the cheaper ones elsewhere', async () => {
    const s = sim({ strategy: createStrategy('priority_based', { preemption: { gracePeriodMs: 0 } }), nodes: [gpuNode('a', 1), gpuNode('b', 1)] });
    s.submit('va', gpu('va', 1, { node: 'a', priority: -5, preemptible: true }));
    s.submit('vb', gpu('vb', 1, { node: 'b', priority: 0, preemptible: true }));
    // unpinned, va (the lower priority) would go; pinned to b, vb goes
    s.submit('R', gpu('r', 1, { node: 'b', priority: 10 }));
    expect(await s.tickAt(1)).toEqual(['preempted vb', 'granted R b[0]', 'resolved R preempted_holder']);
    expect(s.status('va')).toBe('granted');
  });

  it('waits for its node while it cannot be reached, though the others have room', async () => {
    const s = sim({ strategy: createStrategy('priority_based'), nodes: threeNodes() });
    s.engine.setNodeReachable('b', false);
    const z = s.submit('z', gpu('z', 1, { node: 'b' }));
    expect(z.request.status).toBe('queued');
    expect(z.conflict!.message).toMatch(/no reachable node can take it \(not reachable: b\)/);
    s.engine.setNodeReachable('b', true);
    expect(s.where('z')).toMatch(/^b\[/);
  });

  it('an idempotent retry with another node is another body', () => {
    const s = sim({ strategy: createStrategy('priority_based'), nodes: threeNodes() });
    s.engine.submit(gpu('x', 1, { node: 'b' }), { idempotencyKey: 'k' });
    expect(s.engine.submit(gpu('x', 1, { node: 'b' }), { idempotencyKey: 'k' }).replayed).toBe(true);
    expect(schedulerError(() => s.engine.submit(gpu('x', 1, { node: 'c' }), { idempotencyKey: 'k' })).code).toBe('idempotency_conflict');
  });
});

describe('restore', () => {
  it('keeps the node of a waiting request: after the restart it still waits for b, then gets b', () => {
    const clock = new ManualClock(T0);
    let n = 0;
    const newId = () => `id${++n}`;
    const first = new SchedulerEngine({ clock, newId, node: 'a' });
    const requests = new Map<string, Request>();
    const allocations = new Map<string, Allocation>();
    const conflicts = new Map<string, Conflict>();
    first.onChange((batch) => {
      for (const c of batch) {
        if ('request' in c) requests.set(c.request.id, c.request);
        if ('allocation' in c) allocations.set(c.allocation.id, c.allocation);
        if ('conflict' in c) conflicts.set(c.conflict.id, c.conflict);
      }
    });
    for (const inv of threeNodes()) first.onSnapshot(inv);
    const held = [first.submit(gpu('x', 2, { node: 'b' })).allocation!];
    const z = first.submit(gpu('z', 1, { node: 'b' }));
    expect(z.request.status).toBe('queued');
    const state: EngineState = { requests: [...requests.values()], allocations: [...allocations.values()], conflicts: [...conflicts.values()] };
    expect(state.requests.find((r) => r.id === z.request.id)!.node).toBe('b');

    const second = new SchedulerEngine({ clock, newId, node: 'a' });
    second.restore(state);
    for (const inv of threeNodes()) second.onSnapshot(inv);
    expect(second.request(z.request.id)).toMatchObject({ status: 'queued', node: 'b' });
    second.release(held[0]!.id);
    const granted = second.request(z.request.id)!;
    expect(granted.status).toBe('granted');
    expect(second.allocation(granted.allocationId!)!.node).toBe('b');
  });
});
