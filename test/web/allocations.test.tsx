// @vitest-environment jsdom
/**
 * The allocation timeline on a freshly opened page: who held each GPU over the last hour, allocations that ended
 * before the page opened included, named by the owners GET /api/allocations gives (no request asked for each).
 */
import { afterEach, describe, expect, it } from 'vitest';
import { App } from '../../web/src/App.tsx';
import { StaticSource } from './fakes.ts';
import { mount, type Mounted } from './dom.ts';
import { FakeSchedulerApi, allocation, liveSnapshot, request } from './scheduler-fakes.ts';

const MIN = 60_000;
let view: Mounted | null = null;

afterEach(() => {
  view?.unmount();
  view = null;
});

async function open(api: FakeSchedulerApi): Promise<Mounted> {
  history.replaceState(null, '', '/scheduler');
  view = await mount(<App source={new StaticSource(liveSnapshot())} schedulerApi={api} />);
  return view;
}

const bars = (v: Mounted, lane: string) => v.byTestId('timeline-bar', v.container.querySelector(`[data-lane="${lane}"]`)!);

describe('allocation timeline', () => {
  it('shows the allocations that ended within the hour before the page opened, with their owners', async () => {
    const now = Date.now();
    const api = new FakeSchedulerApi();
    api.active = [allocation('a3', 'r3', { gpuIndices: [1], grantedAt: now - 5 * MIN, leaseExpiresAt: now + 10 * MIN, owner: 'cy' })];
    api.ended = [
      allocation('a1', 'r1', { gpuIndices: [0], grantedAt: now - 50 * MIN, endedAt: now - 40 * MIN, state: 'released', owner: 'ana' }),
      allocation('a2', 'r2', { gpuIndices: [0, 1], grantedAt: now - 30 * MIN, endedAt: now - 10 * MIN, state: 'expired', owner: 'bo' }),
      allocation('a0', 'r0', { gpuIndices: [0], grantedAt: now - 180 * MIN, endedAt: now - 120 * MIN, state: 'released', owner: 'old' }),
    ];
    const v = await open(api);

    const since = Number(api.calls.find((c) => c.startsWith('allocations:since='))?.split('=')[1]);
    expect(Math.abs(since - (now - 60 * MIN))).toBeLessThan(10_000);
    expect(bars(v, 'gpu:0').map((b) => [b.getAttribute('data-owner'), b.classList.contains('ended')])).toEqual([['ana', true], ['bo', true]]);
    expect(bars(v, 'gpu:1').map((b) => [b.getAttribute('data-owner'), b.classList.contains('ended')])).toEqual([['bo', true], ['cy', false]]);
    expect(bars(v, 'gpu:0')[0]!.getAttribute('title')).toMatch(/^ana · .+ \(released\)$/);
    expect(v.byTestId('allocation-row').map((r) => r.getAttribute('data-owner'))).toEqual(['cy']);
    expect(api.calls.filter((c) => c.startsWith('request:'))).toEqual([]);
  });

  it('asks for the owner of an allocation listed without one (an older server), and only that one', async () => {
    const now = Date.now();
    const api = new FakeSchedulerApi();
    api.active = [allocation('a1', 'r1', { gpuIndices: [0], grantedAt: now - 5 * MIN, leaseExpiresAt: now + 10 * MIN })];
    api.ended = [allocation('a2', 'r2', { gpuIndices: [0], grantedAt: now - 20 * MIN, endedAt: now - 15 * MIN, state: 'released', owner: 'bo' })];
    api.known.set('r1', request('r1', { owner: 'ana', status: 'granted' }));
    const v = await open(api);

    expect(bars(v, 'gpu:0').map((b) => b.getAttribute('data-owner'))).toEqual(['bo', 'ana']);
    expect(api.calls.filter((c) => c.startsWith('request:'))).toEqual(['request:r1']);
  });
});
