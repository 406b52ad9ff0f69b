/**
 * SchedulerStore: backfills once the push is live (never before), with the allocations that ended within the
 * timeline's window and their owners; replays what arrived during the backfill on top of it, backfills again after
 * a replay gap, asks for owners only when the server names none, and retries a failed backfill on an injected clock.
 */
import { describe, expect, it } from 'vitest';
import type { QueueOrder } from '../../shared/scheduler.ts';
import type { QueuePage } from '../../web/src/scheduler/api.ts';
import { SchedulerStore, allocationsOnGpu, unmanagedUseOf } from '../../web/src/scheduler/store.ts';
import { timelineLanes } from '../../web/src/scheduler/AllocationsPanel.tsx';
import { ApiError } from '../../web/src/lib/api.ts';
import type { SchedulingChange } from '../../shared/scheduler.ts';
import { FakeClock, StaticSource } from './fakes.ts';
import { FakeSchedulerApi, T0, allocation, conflict, liveSnapshot, request } from './scheduler-fakes.ts';

/** A queue answer the test releases when it wants. */
class SlowQueueApi extends FakeSchedulerApi {
  answerQueue: (() => void) | null = null;
  override queue(order: QueueOrder): Promise<QueuePage> {
    const answer = super.queue(order); // what the server had when asked
    return new Promise((ok) => {
      this.answerQueue = () => void answer.then(ok);
    });
  }
}

function setup(api: FakeSchedulerApi, state = liveSnapshot()) {
  const source = new StaticSource(state);
  const clock = new FakeClock();
  clock.now = T0 + 60_000;
  const store = new SchedulerStore(source, { api, now: () => clock.now, setTimeout: clock.setTimeout, clearTimeout: clock.clearTimeout }, { retryMs: 1000 });
  store.start();
  return { source, clock, store };
}

const flush = () => new Promise((r) => setTimeout(r, 0));
const HOUR = 3600_000;
let nextId = 10;
const change = (source: StaticSource, data: SchedulingChange) => source.emit('scheduling_update', [{ id: nextId++, type: 'scheduling_update', ts: data.at, data }]);

describe('SchedulerStore', () => {
  it('backfills only once the push is live', async () => {
    const api = new FakeSchedulerApi();
    const { source, store } = setup(api, liveSnapshot({ state: { kind: 'connecting', transport: 'websocket' } }));
    await flush();
    expect(api.calls).toEqual([]);
    expect(store.getSnapshot().ready).toBe(false);
    source.set(liveSnapshot());
    await flush();
    expect(api.calls).toEqual(expect.arrayContaining(['queue:fifo', 'conflicts:fifo', `allocations:since=${T0 + 60_000 - HOUR}`, 'hints', 'strategy']));
    expect(store.getSnapshot().ready).toBe(true);
  });

  it('replays the events that arrived during the backfill on top of it', async () => {
    const api = new SlowQueueApi();
    api.waiting = [request('a', { owner: 'ana' }), request('b', { owner: 'bo', submittedAt: T0 + 1 })];
    const { source, store } = setup(api);
    await flush();
    // while the queue answer is on its way: a is granted, x arrives
    change(source, { kind: 'request_granted', at: T0 + 10, request: request('a', { owner: 'ana', status: 'granted', updatedAt: T0 + 10 }) });
    change(source, { kind: 'request_queued', at: T0 + 11, request: request('x', { owner: 'xi', submittedAt: T0 + 11 }) });
    api.answerQueue!();
    await flush();
    const snap = store.getSnapshot();
    expect(snap.ready).toBe(true);
    expect(snap.queue.map((r) => r.id)).toEqual(['b', 'x']);
  });

  it('backfills again after a replay gap, keeping ended allocations for the timeline', async () => {
    const api = new FakeSchedulerApi();
    const { source, store } = setup(api);
    await flush();
    change(source, { kind: 'allocation_granted', at: T0, allocation: allocation('al', 'ra') });
    change(source, {
      kind: 'allocation_released', at: T0 + 30_000,
      allocation: allocation('al', 'ra', { state: 'released', endedAt: T0 + 30_000 }), request: request('ra', { status: 'released', owner: 'ana', updatedAt: T0 + 30_000 }),
    });
    api.waiting = [request('c', { owner: 'cy' })];
    const asked = api.calls.filter((c) => c === 'queue:fifo').length;
    source.gap({ lastEventId: 5, oldestId: 9, reason: 'out_of_window' });
    await flush();
    expect(api.calls.filter((c) => c === 'queue:fifo').length).toBe(asked + 1);
    const snap = store.getSnapshot();
    expect(snap.queue.map((r) => r.owner)).toEqual(['cy']);
    expect(snap.allocations.map((a) => [a.id, a.state])).toEqual([['al', 'released']]);
    expect(snap.requests.get('ra')?.owner).toBe('ana');
  });

  it('backfills the last hour of allocations, ended ones too, with the owners the server names: no request asked for', async () => {
    const api = new FakeSchedulerApi();
    api.active = [allocation('a3', 'r3', { gpuIndices: [1], grantedAt: T0 - 5 * 60_000, owner: 'cy' })];
    api.ended = [
      allocation('a1', 'r1', { gpuIndices: [0], grantedAt: T0 - 50 * 60_000, endedAt: T0 - 40 * 60_000, state: 'released', owner: 'ana' }),
      allocation('a2', 'r2', { gpuIndices: [0, 1], grantedAt: T0 - 30 * 60_000, endedAt: T0 - 10 * 60_000, state: 'expired', owner: 'bo' }),
      // ended before the window: the server leaves it out
      allocation('a0', 'r0', { gpuIndices: [0], grantedAt: T0 - 3 * HOUR, endedAt: T0 - 2 * HOUR, state: 'released', owner: 'old' }),
    ];
    const { source, store } = setup(api);
    await flush();
    await flush();
    const snap = store.getSnapshot();
    expect(snap.ready).toBe(true);
    expect(api.calls.filter((c) => c.startsWith('allocations'))).toEqual([`allocations:since=${T0 + 60_000 - HOUR}`]);
    expect(api.calls.filter((c) => c.startsWith('request:'))).toEqual([]);
    expect(snap.allocations.map((a) => [a.id, a.state, a.owner])).toEqual([['a1', 'released', 'ana'], ['a2', 'expired', 'bo'], ['a3', 'active', 'cy']]);
    expect(allocationsOnGpu(snap, 1).map((a) => a.owner)).toEqual(['cy']);
    const lanes = timelineLanes(snap.allocations, [0, 1], T0 + 60_000, snap.windowMs);
    expect(lanes.map((l) => [l.key, l.bars.map((b) => b.owner)])).toEqual([['gpu:0', ['ana', 'bo']], ['gpu:1', ['bo', 'cy']]]);

    // a pushed change carries no owner: the one the server named stays
    change(source, { kind: 'allocation_renewed', at: T0 + 61_000, allocation: allocation('a3', 'r3', { gpuIndices: [1], grantedAt: T0 - 5 * 60_000, leaseExpiresAt: T0 + HOUR }) });
    change(source, {
      kind: 'allocation_released', at: T0 + 62_000,
      allocation: allocation('a3', 'r3', { gpuIndices: [1], grantedAt: T0 - 5 * 60_000, state: 'released', endedAt: T0 + 62_000 }),
      request: request('r3', { owner: 'cy', status: 'released', updatedAt: T0 + 62_000 }),
    });
    expect(store.getSnapshot().allocations.find((a) => a.id === 'a3')).toMatchObject({ state: 'released', owner: 'cy' });
    await flush();
    expect(api.calls.filter((c) => c.startsWith('request:'))).toEqual([]);
  });

  it('keeps the owner a pushed change names for an allocation the server listed without one', async () => {
    const api = new FakeSchedulerApi();
    api.active = [allocation('a1', 'r1')];
    api.known.set('r1', request('r1', { owner: 'ana', status: 'granted' }));
    api.ended = [allocation('a2', 'r2', { state: 'released', endedAt: T0, owner: 'bo' })];
    const { source, store } = setup(api);
    await flush();
    await flush();
    expect(store.getSnapshot().allocations.map((a) => [a.id, a.owner])).toEqual([['a1', 'ana'], ['a2', 'bo']]);
    // only the one without an owner was asked for
    expect(api.calls.filter((c) => c.startsWith('request:'))).toEqual(['request:r1']);
    change(source, { kind: 'allocation_suspended', at: T0 + 61_000, allocation: allocation('a1', 'r1', { suspendedAt: T0 + 61_000 }) });
    expect(store.getSnapshot().allocations.find((a) => a.id === 'a1')).toMatchObject({ suspendedAt: T0 + 61_000, owner: 'ana' });
    // its node stops reporting: the allocation is flagged, kept, with its owner
    change(source, { kind: 'allocation_flagged', at: T0 + 62_000, allocation: allocation('a1', 'r1', { suspendedAt: T0 + 61_000, unreachableSince: T0 + 62_000 }) });
    expect(store.getSnapshot().allocations.find((a) => a.id === 'a1')).toMatchObject({ state: 'active', unreachableSince: T0 + 62_000, owner: 'ana' });
  });

  it('asks for the owners of allocations an older server lists without one', async () => {
    const api = new FakeSchedulerApi();
    api.active = [allocation('a1', 'r1', { gpuIndices: [0, 1] })];
    api.known.set('r1', request('r1', { owner: 'ana', status: 'granted' }));
    api.conflictsOpen = [conflict('u1', null, { key: 'unmanaged:gpu:1', type: 'schedule_conflict', resource: 'gpu:1' })];
    const { store } = setup(api);
    await flush();
    await flush();
    const snap = store.getSnapshot();
    expect(api.calls).toContain('request:r1');
    expect(snap.requests.get('r1')?.owner).toBe('ana');
    expect(allocationsOnGpu(snap, 1).map((a) => a.id)).toEqual(['a1']);
    expect(unmanagedUseOf(snap, 1)?.id).toBe('u1');
    expect(unmanagedUseOf(snap, 0)).toBeNull();
  });

  it('follows strategy changes, and retries a failed backfill on its clock', async () => {
    const api = new FakeSchedulerApi();
    let fail = true;
    const queue = api.queue.bind(api);
    api.queue = (order) => (fail ? Promise.reject(new ApiError(0, 'network_error', 'connection refused')) : queue(order));
    const { source, clock, store } = setup(api);
    await flush();
    expect(store.getSnapshot().error).toContain('connection refused');
    expect(store.getSnapshot().ready).toBe(false);
    fail = false;
    clock.advance(999);
    await flush();
    expect(store.getSnapshot().ready).toBe(false);
    clock.advance(1);
    await flush();
    expect(store.getSnapshot().ready).toBe(true);
    expect(store.getSnapshot().error).toBeNull();

    change(source, { kind: 'strategy_changed', at: T0 + 5, strategy: 'fair_sharing', previous: 'priority_based', config: { halfLifeMs: 1000 } });
    expect(store.getSnapshot().strategy).toEqual({ name: 'fair_sharing', config: { halfLifeMs: 1000 }, since: T0 + 5 });
  });
});
