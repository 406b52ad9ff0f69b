// @vitest-environment jsdom
/** The conflict queue's FIFO / priority toggle: the order shown is the API's for the chosen order, also while events arrive. */
import { act } from 'react';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { App } from '../../web/src/App.tsx';
import { ApiError } from '../../web/src/lib/api.ts';
import { StaticSource } from './fakes.ts';
import { buttonByText, click, mount, settle, type Mounted } from './dom.ts';
import { FakeSchedulerApi, T0, conflict, liveSnapshot, request } from './scheduler-fakes.ts';

let view: Mounted;
let api: FakeSchedulerApi;
let source: StaticSource;

beforeEach(async () => {
  history.replaceState(null, '', '/scheduler');
  api = new FakeSchedulerApi();
  api.waiting = [
    request('a', { owner: 'ana', submittedAt: T0 }),
    request('b', { owner: 'bo', priority: 10, submittedAt: T0 + 1000 }),
    request('c', { owner: 'cy', priority: 5, submittedAt: T0 + 2000 }),
  ];
  api.conflictsOpen = [conflict('ka', 'a', { severity: 1 }), conflict('kb', 'b', { severity: 4, type: 'priority_conflict' }), conflict('kc', 'c', { severity: 2 })];
  // what the server's priority order says (severity, then effective priority, then age)
  api.priorityOrder = ['b', 'c', 'a'];
  source = new StaticSource(liveSnapshot());
  view = await mount(<App source={source} schedulerApi={api} />);
});

afterEach(() => view.unmount());

const owners = () => view.byTestId('queue-row').map((r) => r.getAttribute('data-owner'));
const toggle = () => view.byTestId('order-toggle')[0]!;
const pressed = () => [...toggle().querySelectorAll('button')].filter((b) => b.getAttribute('aria-pressed') === 'true').map((b) => b.textContent);

describe('conflict queue order', () => {
  it('shows arrival order first, the API’s priority order on the toggle, and arrival order again', async () => {
    expect(owners()).toEqual(['ana', 'bo', 'cy']);
    expect(pressed()).toEqual(['FIFO']);
    expect(view.byTestId('queue-row').map((r) => r.querySelector('td')?.textContent)).toEqual(['1', '2', '3']);

    await click(buttonByText(toggle(), 'Priority'));
    expect(api.calls).toContain('queue:priority');
    expect(owners()).toEqual(['bo', 'cy', 'ana']);
    expect(pressed()).toEqual(['Priority']);
    expect(view.container.querySelector('.queue-table')?.getAttribute('data-order')).toBe('priority');
    // each row keeps its own conflict and severity
    expect(view.byTestId('queue-row')[0]!.querySelector('[data-testid="severity"]')?.textContent).toBe('4');

    await click(buttonByText(toggle(), 'FIFO'));
    expect(owners()).toEqual(['ana', 'bo', 'cy']);
    expect(pressed()).toEqual(['FIFO']);
  });

  it('asks again when the queue changes, and places a newcomer where the API says', async () => {
    await click(buttonByText(toggle(), 'Priority'));
    const asked = api.calls.filter((c) => c === 'queue:priority').length;

    // dana arrives with top priority: pushed first, the API then puts her first
    const d = request('d', { owner: 'dana', priority: 100, submittedAt: T0 + 3000 });
    api.waiting.push(d);
    api.priorityOrder = ['d', 'b', 'c', 'a'];
    await act(async () => source.emit('scheduling_update', [{ id: 2, type: 'scheduling_update', ts: T0 + 3000, data: { kind: 'request_queued', at: T0 + 3000, request: d } }]));
    await settle();
    expect(api.calls.filter((c) => c === 'queue:priority').length).toBe(asked + 1);
    expect(owners()).toEqual(['dana', 'bo', 'cy', 'ana']);

    // bo is granted: gone at once
    const granted = { ...api.waiting[1]!, status: 'granted' as const };
    api.waiting = api.waiting.filter((r) => r.id !== 'b');
    api.priorityOrder = ['d', 'c', 'a'];
    await act(async () => source.emit('scheduling_update', [{ id: 3, type: 'scheduling_update', ts: T0 + 4000, data: { kind: 'request_granted', at: T0 + 4000, request: granted } }]));
    await settle();
    expect(owners()).toEqual(['dana', 'cy', 'ana']);

    await click(buttonByText(toggle(), 'FIFO'));
    expect(owners()).toEqual(['ana', 'cy', 'dana']);
  });

  it('resolves with the chosen strategy and cancels, showing the API’s refusal in the row', async () => {
    api.onResolve = () => Promise.reject(new ApiError(409, 'cannot_resolve', 'the priority_based strategy cannot resolve it now: 1 GPU short'));
    const row = view.byTestId('queue-row')[1]!;
    const select = row.querySelector('select')!;
    await act(async () => {
      select.value = 'fair_sharing';
      select.dispatchEvent(new Event('change', { bubbles: true }));
    });
    await click(row.querySelector('[data-testid="resolve"]'));
    expect(api.calls).toContain('resolve:kb:fair_sharing');
    expect(row.querySelector('[role="alert"]')?.textContent).toContain('cannot resolve it now');
    await click(row.querySelector('[data-testid="cancel"]'));
    expect(api.calls).toContain('cancel:b');

    // a strategy that preempts gives the holders notice: the row says when the grant follows
    api.onResolve = (id) => Promise.resolve({ ...conflict(id, 'c'), action: 'preempting', resolvesAt: T0 + 30_000 });
    const other = view.byTestId('queue-row')[2]!;
    await click(other.querySelector('[data-testid="resolve"]'));
    expect(other.querySelector('[role="status"]')?.textContent).toMatch(/^preempting its holders; granted at /);
  });
});
