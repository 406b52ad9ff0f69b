// @vitest-environment jsdom
/** The event feed and its toasts: words for each event, toasts for new conflicts and critical hints, dismiss, links. */
import { act } from 'react';
import { afterEach, describe, expect, it } from 'vitest';
import type { Hint } from '../../shared/hints.ts';
import { App } from '../../web/src/App.tsx';
import { FeedStore } from '../../web/src/feed/feed.ts';
import { FakeClock, StaticSource } from './fakes.ts';
import { click, mount, settle, type Mounted } from './dom.ts';
import { FakeSchedulerApi, T0, conflict, liveSnapshot, request } from './scheduler-fakes.ts';

let view: Mounted | undefined;
afterEach(() => view?.unmount());

function hint(id: string, over: Partial<Hint> = {}): Hint {
  return {
    id, kind: 'unmanaged_gpu_use', severity: 4, title: 'GPU 1 is used without an allocation', message: 'python (pid 4242) uses GPU 1 without an allocation',
    subject: { kind: 'gpu', id: '1' }, createdAt: T0, status: 'active', ...over,
  };
}

async function setup(path = '/events') {
  history.replaceState(null, '', path);
  const source = new StaticSource(liveSnapshot());
  const clock = new FakeClock();
  const feed = new FeedStore(source, { now: () => clock.now, setTimeout: clock.setTimeout, clearTimeout: clock.clearTimeout }, { maxEntries: 5 });
  view = await mount(<App source={source} feed={feed} schedulerApi={new FakeSchedulerApi()} />);
  return { source, clock, feed, view };
}

const toastKinds = () => view!.byTestId('toast').map((t) => t.getAttribute('data-kind'));

describe('event feed', () => {
  it('lists every event in words, newest first, and toasts new conflicts and critical hints', async () => {
    const { source } = await setup();
    await act(async () => {
      source.emit('scheduling_update', [{ id: 11, type: 'scheduling_update', ts: T0, data: { kind: 'request_queued', at: T0, request: request('r1', { owner: 'bo', resources: { cpu: 0, memoryMiB: 0, gpus: 2 } }) } }]);
      source.emit('conflict', [{ id: 12, type: 'conflict', ts: T0, data: { kind: 'conflict_opened', at: T0, conflict: conflict('k1', 'r1', { type: 'priority_conflict', severity: 3 }) } }]);
      source.emit('hint', [
        { id: 13, type: 'hint', ts: T0, data: { kind: 'hint_raised', hint: hint('h1') } },
        { id: 14, type: 'hint', ts: T0, data: { kind: 'hint_raised', hint: hint('h2', { kind: 'lease_expiring', severity: 2, title: 'A lease is about to expire', subject: { kind: 'allocation', id: 'al1' } }) } },
      ]);
    });
    await settle();
    const entries = view!.byTestId('feed-entry');
    expect(entries.map((e) => e.getAttribute('data-event-id'))).toEqual(['14', '13', '12', '11']);
    expect(entries[3]!.textContent).toContain("bo's request waits");
    expect(entries[3]!.textContent).toContain('2 GPUs');
    expect(entries[2]!.textContent).toContain('Priority conflict opened');
    // the conflict and the severity-4 hint toast; the severity-2 hint does not
    expect(toastKinds()).toEqual(['conflict_opened', 'hint_raised']);
    expect(view!.byTestId('toast')[1]!.getAttribute('role')).toBe('alert');
    expect(view!.text('feed-count')).toBe('4 since the page opened');
  });

  it('lets toasts be dismissed, lets passing ones expire, and links each to its subject', async () => {
    const { source, clock } = await setup('/events');
    await act(async () => {
      source.emit('conflict', [{ id: 21, type: 'conflict', ts: T0, data: { kind: 'conflict_opened', at: T0, conflict: conflict('k1', 'r1') } }]);
      source.emit('hint', [{ id: 22, type: 'hint', ts: T0, data: { kind: 'hint_raised', hint: hint('h1') } }]);
    });
    await settle();
    expect(toastKinds()).toEqual(['conflict_opened', 'hint_raised']);
    // the conflict's toast passes; the critical hint stays
    await act(async () => clock.advance(12_000));
    expect(toastKinds()).toEqual(['hint_raised']);
    await act(async () => clock.advance(600_000));
    expect(toastKinds()).toEqual(['hint_raised']);
    // its link opens the GPU it is about (and dismisses it)
    const link = view!.byTestId('toast')[0]!.querySelector('a')!;
    expect(link.getAttribute('href')).toBe('/gpus#gpu-1');
    await click(link);
    expect(location.pathname).toBe('/gpus');
    expect(location.hash).toBe('#gpu-1');
    expect(toastKinds()).toEqual([]);

    await act(async () => source.emit('conflict', [{ id: 23, type: 'conflict', ts: T0, data: { kind: 'conflict_opened', at: T0, conflict: conflict('k2', 'r2') } }]));
    await click(view!.byTestId('toast')[0]!.querySelector('button[aria-label^="Dismiss"]'));
    expect(toastKinds()).toEqual([]);
  });

  it('keeps a bounded feed and shows a replay gap as an entry', async () => {
    const { source } = await setup();
    await act(async () => {
      source.emit('scheduling_update', Array.from({ length: 7 }, (_, i) => ({ id: 31 + i, type: 'scheduling_update' as const, ts: T0, data: { kind: 'request_cancelled' as const, at: T0, request: request(`r${i}`, { status: 'cancelled' }) } })));
      source.gap({ lastEventId: 37, oldestId: 50, reason: 'out_of_window' });
    });
    await settle();
    const entries = view!.byTestId('feed-entry');
    expect(entries).toHaveLength(5);
    expect(entries[0]!.getAttribute('data-kind')).toBe('replay_gap');
    expect(entries[0]!.textContent).toContain('up to 12 events after #37');
    expect(view!.text('feed-count')).toBe('7 since the page opened · 1 gap');
  });
});
