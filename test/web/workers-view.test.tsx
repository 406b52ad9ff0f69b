// @vitest-environment jsdom
/**
 * The Workers view: each group with owner, backend and replicas per state; each replica with its state badge, GPUs,
 * address, engine, start, exit code, its allocation (or request) linked into the Scheduler view, and why it is not
 * running; pushed worker changes update it without a reload; Delete asks first, calls the API, shows its progress and
 * the server's error inline; the output panel reads GET /api/workers/{id}/logs?tail=200 and again every 2 s on the
 * injected clock while the worker is live; a replay gap reads the list again. The API and the live source are fakes.
 */
import { act } from 'react';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { Envelope, EventType } from '../../shared/events.ts';
import type { WorkerGroupResponse, WorkerLogsResponse } from '../../shared/workers.ts';
import { App } from '../../web/src/App.tsx';
import { ApiError } from '../../web/src/lib/api.ts';
import type { Timers } from '../../web/src/lib/timers.ts';
import { workersApi } from '../../web/src/workers/api.ts';
import { FakeClock, StaticSource } from './fakes.ts';
import { buttonByText, click, mount, settle, type Mounted } from './dom.ts';
import { FakeSchedulerApi, T0, conflict, liveSnapshot } from './scheduler-fakes.ts';
import { FakeWorkersApi, conflictEnv, queuedWorker, worker, workerEnv } from './workers-fakes.ts';

const BEHIND = 'queued behind exp (request req-a-0, priority 0, GPU 0): gpu: needs 1, 0 free';

let view: Mounted;
let api: FakeWorkersApi;
let source: StaticSource;
let clock: FakeClock;
let timers: Timers;

async function open(): Promise<void> {
  view = await mount(<App source={source} schedulerApi={new FakeSchedulerApi()} workersApi={api} timers={timers} />);
}

beforeEach(async () => {
  history.replaceState(null, '', '/workers');
  clock = new FakeClock();
  clock.now = T0;
  timers = { now: () => clock.now, setTimeout: clock.setTimeout, clearTimeout: clock.clearTimeout };
  source = new StaticSource(liveSnapshot());
  api = new FakeWorkersApi();
  api.workers = [
    worker('exp/a', 0, { engine: 'examples/workers/echo_engine.mjs#EchoEngine' }),
    worker('exp/a', 1, { state: 'failed', exit_code: 137, why: 'killed by SIGKILL; last lines: listening on 127.0.0.1:9101' }),
    queuedWorker('exp/b', 0, BEHIND, { owner: 'ana' }),
    worker('old', 0, { state: 'stopped', exit_code: 0, why: 'deleted', owner: 'bo' }),
  ];
  api.logLines.set('exp/a-0', ['arbiter worker exp/a-0 listening on 127.0.0.1:9100', 'engine created']);
  await open();
});

afterEach(() => {
  view.unmount();
  vi.unstubAllGlobals();
});

async function push<K extends EventType>(type: K, envs: Envelope<K>[]): Promise<void> {
  await act(async () => source.emit(type, envs));
  await settle();
}
async function advance(ms: number): Promise<void> {
  await act(async () => clock.advance(ms));
  await settle();
}

const groupEl = (name: string) => view.container.querySelector<HTMLElement>(`[data-testid="worker-group"][data-group="${name}"]`);
const row = (id: string) => view.container.querySelector<HTMLElement>(`[data-testid="worker"][data-worker-id="${id}"]`);
const cell = (el: ParentNode | null, testId: string) => el?.querySelector(`[data-testid="${testId}"]`)?.textContent ?? null;
const liveGroups = () => view.byTestId('worker-group').filter((g) => g.dataset.live === 'true').map((g) => g.dataset.group);
const endedGroups = () => view.byTestId('worker-group', view.byTestId('ended-groups')[0] ?? view.container).filter((g) => g.dataset.live === 'false').map((g) => g.dataset.group);

describe('Workers view', () => {
  it('is a view of its own in the navigation', () => {
    const link = view.byTestId<HTMLAnchorElement>('nav-workers')[0]!;
    expect(link.getAttribute('href')).toBe('/workers');
    expect(link.getAttribute('aria-current')).toBe('page');
    expect(api.calls).toEqual(['list']);
  });

  it('shows each group with owner, backend and counts, and each replica with state, GPUs, address, engine, start and exit', () => {
    expect(liveGroups()).toEqual(['exp/a', 'exp/b']);
    const a = groupEl('exp/a')!;
    expect(cell(a, 'group-facts')).toBe('exp · local · 2 replicas');
    expect(view.byTestId('group-count', a).map((c) => [c.dataset.state, c.textContent])).toEqual([['running', '1 running'], ['failed', '1 failed']]);
    expect(a.querySelector('h2')!.textContent).toBe('Group exp/a');

    const r0 = row('exp/a-0')!;
    expect(cell(r0, 'worker-state')).toBe('running');
    expect(r0.querySelector('[data-testid="worker-state"]')!.className).toBe('state-badge state-running');
    expect(cell(r0, 'worker-gpus')).toBe('GPU 0');
    expect(r0.querySelector<HTMLAnchorElement>('.gpu-chip')!.getAttribute('href')).toBe('/gpus#gpu-0');
    expect(cell(r0, 'worker-address')).toBe('127.0.0.1:9100');
    expect(cell(r0, 'worker-engine')).toBe('examples/workers/echo_engine.mjs#EchoEngine');
    expect(cell(r0, 'worker-started')).toMatch(/ ago$/);
    expect(cell(r0, 'worker-exit')).toBe('—');
    // running: no why line
    expect(r0.querySelector('[data-testid="worker-why"]')).toBeNull();
    // its allocation, in the Scheduler view
    expect(r0.querySelector<HTMLAnchorElement>('[data-testid="worker-allocation"]')!.getAttribute('href')).toBe('/scheduler#allocation-alloc-exp/a-0');

    const r1 = row('exp/a-1')!;
    expect(r1.querySelector('[data-testid="worker-state"]')!.className).toBe('state-badge state-failed');
    expect(cell(r1, 'worker-exit')).toBe('137');
    expect(cell(r1, 'worker-why')).toBe('Why it is failed: killed by SIGKILL; last lines: listening on 127.0.0.1:9101');
    expect(r1.querySelector('.worker-why')!.classList.contains('why-bad')).toBe(true);
  });

  it('says why a queued replica waits, prominently, and links its request in the queue', () => {
    const b = row('exp/b-0')!;
    expect(cell(b, 'worker-state')).toBe('queued');
    expect(b.querySelector('[data-testid="worker-why"]')!.textContent).toContain(BEHIND);
    expect(b.querySelector('.worker-why')!.classList.contains('why-wait')).toBe(true);
    expect(b.querySelector<HTMLAnchorElement>('[data-testid="worker-request"]')!.getAttribute('href')).toBe('/scheduler#request-req-exp/b-0');
    expect(cell(b, 'worker-gpus')).toBe('—');
    expect(cell(groupEl('exp/b'), 'group-facts')).toBe('ana · local · 1 replica');
  });

  it('lists ended groups collapsed below the live ones, without Delete', () => {
    const details = view.byTestId<HTMLDetailsElement>('ended-groups')[0]!;
    expect(details.open).toBe(false);
    expect(endedGroups()).toEqual(['old']);
    expect(details.querySelector('summary')!.textContent).toContain('Ended groups');
    expect(groupEl('old')!.querySelector('[data-testid="delete-group"]')).toBeNull();
    // after the live ones in the page
    const all = view.byTestId('worker-group').map((g) => g.dataset.group);
    expect(all).toEqual(['exp/a', 'exp/b', 'old']);
  });

  it('updates live from pushed events: the queued replica starts and runs, a new group appears, a removed one goes', async () => {
    await push('worker_update', [workerEnv('worker_state', worker('exp/b', 0, { owner: 'ana', state: 'starting', port: null, started_at: null, why: 'starting' }), T0 + 10, 'queued')]);
    expect(cell(row('exp/b-0'), 'worker-state')).toBe('starting');
    expect(cell(row('exp/b-0'), 'worker-why')).toContain('starting');
    expect(cell(row('exp/b-0'), 'worker-gpus')).toBe('GPU 0');
    await push('worker_update', [workerEnv('worker_state', worker('exp/b', 0, { owner: 'ana' }), T0 + 20, 'starting')]);
    expect(cell(row('exp/b-0'), 'worker-state')).toBe('running');
    expect(row('exp/b-0')!.querySelector('[data-testid="worker-why"]')).toBeNull();
    expect(cell(row('exp/b-0'), 'worker-address')).toBe('127.0.0.1:9100');

    await push('worker_update', [workerEnv('worker_created', queuedWorker('exp/c', 0, 'waiting for its grant', { request_id: null }), T0 + 30)]);
    expect(liveGroups()).toEqual(['exp/a', 'exp/b', 'exp/c']);
    expect(cell(row('exp/c-0'), 'worker-why')).toContain('waiting for its grant');

    await push('worker_update', [workerEnv('worker_removed', worker('old', 0, { state: 'stopped' }), T0 + 40)]);
    expect(view.byTestId('ended-groups')).toHaveLength(0);
  });

  it('shows the server’s reason once a pushed replica’s conflict is pushed', async () => {
    await advance(5000);
    api.workers.push(queuedWorker('exp/c', 0, 'queued behind exp (request req-exp/a-0, priority 0, GPU 0): gpu: needs 1, 0 free'));
    await push('worker_update', [workerEnv('worker_created', queuedWorker('exp/c', 0, 'waiting for its grant', { request_id: null }), T0 + 5000)]);
    await push('conflict', [conflictEnv('conflict_opened', conflict('k9', 'req-exp/c-0'), T0 + 5001)]);
    await advance(1000);
    expect(cell(row('exp/c-0'), 'worker-why')).toContain('queued behind exp (request req-exp/a-0');
    expect(row('exp/c-0')!.querySelector<HTMLAnchorElement>('[data-testid="worker-request"]')!.getAttribute('href')).toBe('/scheduler#request-req-exp/c-0');
  });

  it('deletes a group after a confirmation: calls the API, shows progress while it runs, then the group ends', async () => {
    const a = () => groupEl('exp/a')!;
    // Keep: nothing asked
    await click(a().querySelector('[data-testid="delete-group"]'));
    expect(view.byTestId('delete-confirmation', a())).toHaveLength(1);
    expect(document.activeElement?.getAttribute('data-testid')).toBe('delete-confirm');
    expect(view.byTestId('delete-confirmation', a())[0]!.textContent).toContain('Stop its live replica and delete exp/a?');
    await click(a().querySelector('[data-testid="delete-cancel"]'));
    expect(api.calls.filter((c) => c.startsWith('remove'))).toEqual([]);
    expect(document.activeElement?.getAttribute('data-testid')).toBe('delete-group');

    let answer: () => void = () => undefined;
    const plain = api.onRemove;
    api.onRemove = (name) => new Promise<WorkerGroupResponse>((ok) => (answer = () => void plain(name).then(ok)));
    await click(a().querySelector('[data-testid="delete-group"]'));
    await click(a().querySelector('[data-testid="delete-confirm"]'));
    expect(api.calls).toContain('remove:exp/a');
    const button = a().querySelector<HTMLButtonElement>('[data-testid="delete-group"]')!;
    expect(button.disabled).toBe(true);
    expect(button.textContent).toBe('Deleting…');
    expect(cell(a(), 'delete-progress')).toContain('1 of 2 ended');
    // the replica ends (pushed) while the server still waits
    await push('worker_update', [workerEnv('worker_state', worker('exp/a', 0, { state: 'stopped', why: 'deleted' }), T0 + 100, 'running')]);
    expect(endedGroups()).toContain('exp/a');
    await act(async () => answer());
    await settle();
    expect(endedGroups()).toEqual(['exp/a', 'old']);
    expect(liveGroups()).toEqual(['exp/b']);
  });

  it('shows the server’s refusal inline (404, 409) and lets the user try again', async () => {
    api.onRemove = () => Promise.reject(new ApiError(409, 'invalid_state', 'worker exp/a-0 is starting; try again'));
    await click(groupEl('exp/a')!.querySelector('[data-testid="delete-group"]'));
    await click(groupEl('exp/a')!.querySelector('[data-testid="delete-confirm"]'));
    const err = view.byTestId('delete-error', groupEl('exp/a')!)[0]!;
    expect(err.textContent).toBe('Could not delete exp/a: worker exp/a-0 is starting; try again');
    expect(err.getAttribute('role')).toBe('alert');
    expect(groupEl('exp/a')!.querySelector<HTMLButtonElement>('[data-testid="delete-group"]')!.disabled).toBe(false);

    api.onRemove = () => Promise.reject(new ApiError(404, 'not_found', 'no worker group "exp/a"'));
    await click(groupEl('exp/a')!.querySelector('[data-testid="delete-group"]'));
    await click(groupEl('exp/a')!.querySelector('[data-testid="delete-confirm"]'));
    expect(cell(groupEl('exp/a'), 'delete-error')).toBe('Could not delete exp/a: no worker group "exp/a"');
    // the page was out of date: it read the list again
    expect(api.count('list')).toBe(2);
  });

  it('opens a replica’s output: reads the last 200 lines, and again every 2 s on the clock while it is live', async () => {
    const button = row('exp/a-0')!.querySelector<HTMLButtonElement>('[data-testid="worker-logs-button"]')!;
    expect(button.getAttribute('aria-expanded')).toBe('false');
    await click(button);
    expect(button.getAttribute('aria-expanded')).toBe('true');
    const panel = view.byTestId('worker-logs')[0]!;
    expect(button.getAttribute('aria-controls')).toBe(panel.id);
    expect(api.calls.filter((c) => c.startsWith('logs'))).toEqual(['logs:exp/a-0:200']);
    expect(cell(panel, 'log-lines')).toBe('arbiter worker exp/a-0 listening on 127.0.0.1:9100\nengine created');
    expect(panel.querySelector('pre')!.tabIndex).toBe(0);
    expect(cell(panel, 'logs-meta')).toContain('refreshed every 2 s');

    api.logLines.set('exp/a-0', [...api.logLines.get('exp/a-0')!, 'call add']);
    await advance(1999);
    expect(api.count('logs:exp/a-0:200')).toBe(1);
    await advance(1);
    expect(api.count('logs:exp/a-0:200')).toBe(2);
    expect(cell(view.byTestId('worker-logs')[0]!, 'log-lines')).toContain('call add');
    await advance(2000);
    expect(api.count('logs:exp/a-0:200')).toBe(3);

    // Refresh reads now
    await click(view.byTestId('logs-refresh')[0]);
    expect(api.count('logs:exp/a-0:200')).toBe(4);

    // it ends: read once more, then no more
    await push('worker_update', [workerEnv('worker_state', worker('exp/a', 0, { state: 'stopped', why: 'deleted' }), T0 + 9000, 'running')]);
    expect(api.count('logs:exp/a-0:200')).toBe(5);
    expect(cell(view.byTestId('worker-logs')[0]!, 'logs-meta')).toContain('ended');
    await advance(10_000);
    expect(api.count('logs:exp/a-0:200')).toBe(5);
  });

  it('closes the output with Escape (focus back on its button) and stops reading; shows a read error inline', async () => {
    api.onLogs = () => Promise.reject(new ApiError(404, 'not_found', 'no worker "exp/a-0"'));
    await click(row('exp/a-0')!.querySelector('[data-testid="worker-logs-button"]'));
    expect(cell(view.container, 'logs-error')).toBe('The output could not be read: no worker "exp/a-0"');
    const panel = view.byTestId('worker-logs')[0]!;
    await act(async () => panel.dispatchEvent(new KeyboardEvent('keydown', { key: 'Escape', bubbles: true })));
    await settle();
    expect(view.byTestId('worker-logs')).toHaveLength(0);
    expect(document.activeElement?.getAttribute('data-testid')).toBe('worker-logs-button');
    const asked = api.calls.filter((c) => c.startsWith('logs')).length;
    await advance(10_000);
    expect(api.calls.filter((c) => c.startsWith('logs')).length).toBe(asked);
  });

  it('reads the list again after a replay gap (events were lost)', async () => {
    api.workers = [worker('exp/a', 0, { state: 'stopped', why: 'deleted' }), worker('exp/a', 1, { state: 'failed', exit_code: 137 }), worker('exp/b', 0, { owner: 'ana' })];
    await act(async () => source.gap({ lastEventId: 3, oldestId: 50, reason: 'out_of_window' }));
    await settle();
    expect(api.count('list')).toBe(2);
    expect(liveGroups()).toEqual(['exp/b']);
    expect(cell(row('exp/b-0'), 'worker-state')).toBe('running');
    expect(endedGroups()).toEqual(['exp/a']);
  });

  it('says how to create workers when there are none', async () => {
    view.unmount();
    api.workers = [];
    await open();
    expect(view.text('workers-empty')).toContain('POST /api/workers');
  });

  it('says when the list cannot be read, with a way to try again', async () => {
    view.unmount();
    api.list = () => Promise.reject(new ApiError(500, 'internal', 'the store is closed'));
    await open();
    expect(view.text('workers-error')).toContain('The workers could not be read: the store is closed');
    expect(buttonByText(view.container, 'Try again')).toBeDefined();
  });
});

describe('worker API client', () => {
  it('encodes group names and worker ids (they contain /) as one path segment', async () => {
    const fetch = vi.fn(async (url: string, _init?: RequestInit) => new Response(JSON.stringify(url.includes('/logs') ? ({ id: 'exp/a-0', lines: [] } satisfies WorkerLogsResponse) : { name: 'exp/a', workers: [] }), { status: 200, headers: { 'Content-Type': 'application/json' } }));
    vi.stubGlobal('fetch', fetch);
    await workersApi.remove('exp/a');
    await workersApi.logs('exp/a-0', 200);
    expect(fetch.mock.calls.map((c) => c[0])).toEqual(['/api/workers/exp%2Fa', '/api/workers/exp%2Fa-0/logs?tail=200']);
    expect(fetch.mock.calls[0]![1]).toMatchObject({ method: 'DELETE' });
  });

  it('reads the server’s {error: {code, message}} of a refused delete into the ApiError', async () => {
    vi.stubGlobal('fetch', vi.fn(async () => new Response(JSON.stringify({ error: { code: 'not_found', message: 'no worker group "x"' } }), { status: 404, headers: { 'Content-Type': 'application/json' } })));
    const err = await workersApi.remove('x').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ApiError);
    expect(err).toMatchObject({ status: 404, code: 'not_found', message: 'no worker group "x"' });
  });
});
