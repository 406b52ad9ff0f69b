/**
 * SchedulerStore: backfills once the push is live (never before), replays what arrived during the backfill on top
 * of it, backfills again after a replay gap, fills in owners, and retries a failed backfill on an injected clock.
 */
import { describe, expect, it } from 'vitest';
import type { QueueOrder } from '../../shared/scheduler.ts';
import type { QueuePage } from '../../web/src/scheduler/api.ts';
import { SchedulerStore, allocationsOnGpu, unmanagedUseOf } from '../../web/src/scheduler/store.ts';
import { ApiError } from '../../web/src/lib/api.ts';
import type { SchedulingChange } from '../../web/src/live/connection.ts';
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
    expect(api.calls).toEqual(expect.arrayContaining(['queue:fifo', 'conflicts:fifo', 'allocations', 'hints', 'strategy']));
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

  it('asks for the owners of allocations granted before the page opened', async () => {
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
