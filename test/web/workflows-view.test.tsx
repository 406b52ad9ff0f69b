// @vitest-environment jsdom
/**
 * The Workflows view: a view of its own in the navigation; the list (name, user, state badge, jobs per state,
 * created), filtered by state and user; a click opens one workflow at /workflows?id=…, drawn as its DAG — a column
 * per depth, a box per job, an edge per parent — whose boxes change colour as pushed job changes arrive; a click on
 * a job shows its panel (state, why, runs, exit code, request, allocation, worker, and its output: the worker's logs
 * when it has a worker, else the lines kept with the job); Cancel (confirmed) and Retry call the API. The API and the
 * live source are fakes.
 */
import { act } from 'react';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { Envelope } from '../../shared/events.ts';
import type { Job, Workflow } from '../../shared/workflows.ts';
import { App } from '../../web/src/App.tsx';
import { ApiError } from '../../web/src/lib/api.ts';
import type { Timers } from '../../web/src/lib/timers.ts';
import { workflowsApi } from '../../web/src/workflows/api.ts';
import { layoutDag } from '../../web/src/workflows/layout.ts';
import { FakeClock, StaticSource } from './fakes.ts';
import { buttonByText, click, mount, settle, type Mounted } from './dom.ts';
import { FakeSchedulerApi, T0, liveSnapshot } from './scheduler-fakes.ts';
import { FakeWorkersApi } from './workers-fakes.ts';
import { FakeWorkflowsApi, diamond, iso, job, jobEnv, workflow, workflowEnv, withJob } from './workflows-fakes.ts';

// the layout, counted: it is computed once per structure, never for a change of state
vi.mock('../../web/src/workflows/layout.ts', async (importOriginal) => {
  const m = await importOriginal<typeof import('../../web/src/workflows/layout.ts')>();
  return { ...m, layoutDag: vi.fn(m.layoutDag) };
});
const layouts = () => vi.mocked(layoutDag).mock.calls.length;

let view: Mounted;
let api: FakeWorkflowsApi;
let workers: FakeWorkersApi;
let source: StaticSource;
let clock: FakeClock;
let timers: Timers;

async function open(path = '/workflows'): Promise<void> {
  history.replaceState(null, '', path);
  view = await mount(<App source={source} schedulerApi={new FakeSchedulerApi()} workersApi={workers} workflowsApi={api} timers={timers} />);
}

beforeEach(async () => {
  clock = new FakeClock();
  clock.now = T0;
  timers = { now: () => clock.now, setTimeout: clock.setTimeout, clearTimeout: clock.clearTimeout };
  source = new StaticSource(liveSnapshot());
  api = new FakeWorkflowsApi();
  api.workflows = [
    diamond('wf-1'),
    workflow('wf-2', [job(0, { name: 'fetch', status: 'FAILED', exit_code: 2, attempts: 1, why: 'exited with code 2' }), job(1, { name: 'use', status: 'SKIPPED', parent_indices: [0], depth: 1, why: 'fetch failed' })], {
      username: 'bo', status: 'FAILED', created_at: iso(T0 + 5000), name: 'nightly',
    }),
    workflow('wf-0', [job(0, { status: 'SUCCEEDED' })], { status: 'SUCCEEDED', created_at: iso(T0 - 5000), name: null }),
  ];
  workers = new FakeWorkersApi();
  workers.logLines.set('w-1', ['epoch 1 loss 0.9', 'epoch 2 loss 0.7']);
  await open();
});

afterEach(() => {
  view.unmount();
  vi.unstubAllGlobals();
});

async function push(envs: Envelope<'workflow_update'>[]): Promise<void> {
  await act(async () => source.emit('workflow_update', envs));
  await settle();
}

const rows = () => view.byTestId('workflow-row');
const row = (id: string) => view.container.querySelector<HTMLElement>(`[data-testid="workflow-row"][data-workflow-id="${id}"]`);
const node = (index: number) => view.container.querySelector<HTMLElement>(`[data-testid="dag-node"][data-index="${index}"]`);
const counts = (el: ParentNode) => view.byTestId('job-count', el).map((c) => c.textContent);
const filter = (label: string) => [...view.byTestId('status-filter')[0]!.querySelectorAll('button')].find((b) => b.textContent!.startsWith(label));

async function openWorkflow(id: string): Promise<void> {
  await click(row(id)!.querySelector('[data-testid="workflow-link"]'));
}

describe('Workflows view: the list', () => {
  it('is a view of its own in the navigation, and lists the workflows newest first', () => {
    const link = view.byTestId<HTMLAnchorElement>('nav-workflows')[0]!;
    expect(link.getAttribute('href')).toBe('/workflows');
    expect(link.getAttribute('aria-current')).toBe('page');
    expect(link.textContent).toBe('Workflows');
    expect(api.calls).toEqual(['list']);
    expect(rows().map((r) => r.dataset.workflowId)).toEqual(['wf-2', 'wf-1', 'wf-0']);
  });

  it('shows name, user, state badge, jobs per state and when it was created', () => {
    const r = row('wf-2')!;
    expect(r.querySelector('[data-testid="workflow-link"]')!.textContent).toBe('nightly');
    expect(r.querySelector<HTMLAnchorElement>('[data-testid="workflow-link"]')!.getAttribute('href')).toBe('/workflows?id=wf-2');
    expect(r.children[1]!.textContent).toBe('bo');
    const badge = r.querySelector('[data-testid="workflow-status"]')!;
    expect(badge.textContent).toBe('FAILED');
    expect(badge.className).toBe('job-status status-failed');
    expect(counts(r)).toEqual(['1 FAILED', '1 SKIPPED']);
    expect(r.querySelector('[data-testid="workflow-job-count"]')!.textContent).toBe('2 jobs');
    expect(r.querySelector('time')!.getAttribute('datetime')).toBe(iso(T0 + 5000));
    // a workflow without a name is shown by its id
    expect(row('wf-0')!.querySelector('[data-testid="workflow-link"]')!.textContent).toBe('wf-0');
    expect(counts(row('wf-1')!)).toEqual(['1 PENDING', '1 QUEUED', '1 RUNNING', '1 SUCCEEDED']);
  });

  it('filters by state and by user, and follows pushed changes', async () => {
    expect(filter('failed')!.textContent).toBe('failed 1');
    await click(filter('failed'));
    expect(filter('failed')!.getAttribute('aria-pressed')).toBe('true');
    expect(rows().map((r) => r.dataset.workflowId)).toEqual(['wf-2']);
    await click(filter('running'));
    expect(rows().map((r) => r.dataset.workflowId)).toEqual(['wf-1']);
    // wf-1 fails: it leaves the running ones
    const d = diamond('wf-1');
    await push([workflowEnv('workflow_state', { ...withJob(d, { ...d.jobs[1]!, status: 'FAILED' }), status: 'FAILED' }, T0 + 100, undefined, 'RUNNING')]);
    expect(view.text('workflows-empty')).toBe('No workflow matches the filter.');
    await click(filter('All'));
    expect(rows()).toHaveLength(3);

    const users = view.byTestId<HTMLSelectElement>('user-filter')[0]!;
    expect([...users.options].map((o) => o.textContent)).toEqual(['every user', 'ana', 'bo']);
    await act(async () => {
      users.value = 'bo';
      users.dispatchEvent(new Event('change', { bubbles: true }));
    });
    expect(rows().map((r) => r.dataset.workflowId)).toEqual(['wf-2']);
  });

  it('adds a workflow created meanwhile on top', async () => {
    await push([workflowEnv('workflow_created', workflow('wf-9', [job(0)], { status: 'PENDING', created_at: iso(T0 + 60_000), name: 'fresh' }), T0 + 60_000)]);
    expect(rows().map((r) => r.dataset.workflowId)).toEqual(['wf-9', 'wf-2', 'wf-1', 'wf-0']);
  });

  it('says how to submit one when there are none, and when the list cannot be read', async () => {
    view.unmount();
    api.workflows = [];
    await open();
    expect(view.text('workflows-empty')).toContain('POST /api/workflows');
    view.unmount();
    api.list = () => Promise.reject(new ApiError(500, 'internal', 'the store is closed'));
    await open();
    expect(view.text('workflows-error')).toContain('The workflows could not be read: the store is closed');
    expect(buttonByText(view.container, 'Try again')).toBeDefined();
  });
});

describe('Workflows view: one workflow', () => {
  it('opens on click at /workflows?id=…, drawn left to right by depth with an edge per parent', async () => {
    await openWorkflow('wf-1');
    expect(location.pathname + location.search).toBe('/workflows?id=wf-1');
    expect(api.calls).toEqual(['list', 'get:wf-1']);
    expect(view.text('workflow-name')).toBe('flow wf-1');
    expect(view.byTestId('workflow-status')[0]!.className).toBe('job-status status-running');
    expect(counts(view.byTestId('workflow')[0]!)).toEqual(['1 PENDING', '1 QUEUED', '1 RUNNING', '1 SUCCEEDED']);

    const columns = view.byTestId('dag-column');
    expect(columns.map((c) => c.dataset.depth)).toEqual(['0', '1', '2']);
    expect(columns.map((c) => view.byTestId('dag-node', c).map((n) => n.querySelector('.dag-node-name')!.textContent))).toEqual([['prep'], ['train-a', 'train-b'], ['eval']]);
    expect(columns[1]!.getAttribute('aria-label')).toBe('Depth 1: 2 jobs');
    // left to right
    const left = columns.map((c) => parseFloat(c.style.left));
    expect(left).toEqual([...left].sort((a, b) => a - b));
    expect(new Set(left).size).toBe(3);
    const edges = view.byTestId('dag-edge');
    expect(edges.filter((e) => e.dataset.kind === 'parent').map((e) => `${e.dataset.from}→${e.dataset.to}`)).toEqual(['0→1', '0→2', '1→3', '2→3']);
    // eval runs after prep, the job of its branch listed before it: dashed
    const branch = edges.filter((e) => e.dataset.kind === 'branch');
    expect(branch.map((e) => `${e.dataset.from}→${e.dataset.to}`)).toEqual(['0→3']);
    expect(branch[0]!.getAttribute('class')).toBe('dag-edge dag-edge-branch');

    expect(node(0)!.className).toBe('dag-node status-succeeded');
    expect(node(1)!.className).toBe('dag-node status-running');
    expect(node(2)!.className).toBe('dag-node status-queued');
    expect(node(3)!.className).toBe('dag-node status-pending');
    expect(node(1)!.querySelector('[data-testid="dag-node-runs"]')!.textContent).toBe('run 1 of 3');
    expect(node(1)!.querySelector('.dag-node-type')!.textContent).toBe('train');

    // back to the list
    await click(view.byTestId('workflows-back')[0]);
    expect(location.search).toBe('');
    expect(rows()).toHaveLength(3);
  });

  it('changes a box’s colour as its job’s changes arrive, without laying the DAG out again', async () => {
    await openWorkflow('wf-1');
    const laidOut = layouts();
    expect(laidOut).toBeGreaterThan(0);
    const edgesBefore = view.byTestId('dag-edge');
    const evalBox = node(3);
    const d = diamond('wf-1');
    const started = { ...d.jobs[2]!, status: 'RUNNING' as const, attempts: 1, why: null, worker_id: 'w-2' };
    await push([jobEnv(d, started, T0 + 1000, 'QUEUED')]);
    expect(node(2)!.className).toBe('dag-node status-running');
    expect(node(2)!.dataset.status).toBe('RUNNING');
    expect(node(2)!.querySelector('[data-testid="dag-node-status"]')!.textContent).toBe('RUNNING');
    expect(counts(view.byTestId('workflow')[0]!)).toEqual(['1 PENDING', '2 RUNNING', '1 SUCCEEDED']);

    const d2 = withJob(d, started);
    const failed = { ...d2.jobs[1]!, status: 'FAILED' as const, exit_code: 1, why: 'exited with code 1' };
    const skipped = { ...d2.jobs[3]!, status: 'SKIPPED' as const, why: 'train-a failed' };
    const d3 = withJob(d2, failed);
    await push([jobEnv(d2, failed, T0 + 2000, 'RUNNING'), jobEnv(d3, skipped, T0 + 2000, 'PENDING')]);
    expect(node(1)!.className).toBe('dag-node status-failed');
    expect(node(3)!.className).toBe('dag-node status-skipped');
    // the same elements, updated in place; the layout not computed again
    expect(node(3)).toBe(evalBox);
    expect(view.byTestId('dag-edge').every((e, k) => e === edgesBefore[k])).toBe(true);
    expect(layouts()).toBe(laidOut);
  });

  it('shows a job’s panel on click: state, why, runs, ids, and its worker’s output', async () => {
    await openWorkflow('wf-1');
    await click(node(1));
    expect(node(1)!.getAttribute('aria-expanded')).toBe('true');
    expect(node(1)!.classList.contains('selected')).toBe(true);
    const panel = view.byTestId('job-panel')[0]!;
    expect(node(1)!.getAttribute('aria-controls')).toBe(panel.id);
    expect(panel.querySelector('h3')!.textContent).toBe('Job train-a');
    expect(view.text('job-status', panel)).toBe('RUNNING');
    expect(view.text('job-runs', panel)).toBe('1 of 3 (2 retries)');
    expect(view.text('job-exit', panel)).toBe('—');
    expect(panel.querySelector<HTMLAnchorElement>('[data-testid="job-allocation"] a')!.getAttribute('href')).toBe('/scheduler#allocation-alloc-1');
    expect(panel.querySelector<HTMLAnchorElement>('[data-testid="job-worker"] a')!.getAttribute('href')).toBe('/workers#worker-w-1');
    expect(view.text('job-request', panel)).toBe('req-1');
    expect(view.text('job-cmd', panel)).toContain('python train.py');
    // its worker's output, read from the worker's logs
    expect(workers.calls).toEqual(['logs:w-1:200']);
    expect(view.text('log-lines', panel)).toBe('epoch 1 loss 0.9\nepoch 2 loss 0.7');
    // the selected job's edges stand out
    expect(view.byTestId('dag-edge-selected')).toHaveLength(2);
    expect(view.text('job-branch', panel)).toBe('a');

    // a queued job: why it waits, its request linked into the queue
    await click(node(2));
    const queued = view.byTestId('job-panel')[0]!;
    expect(view.text('job-why', queued)).toContain('queued behind bo (request req-9)');
    expect(queued.querySelector<HTMLAnchorElement>('[data-testid="job-request"] a')!.getAttribute('href')).toBe('/scheduler#request-req-2');
    expect(node(1)!.getAttribute('aria-expanded')).toBe('false');

    // the job of its branch listed before it, and a way to it
    await click(node(3));
    expect(view.text('job-branch')).toBe('main · runs after prep');
    await click(buttonByText(view.byTestId('job-branch')[0]!, 'prep'));
    expect(view.byTestId('job-panel')[0]!.dataset.index).toBe('0');

    // a job without a worker: the lines kept with it
    expect(view.text('job-log-tail')).toBe('prepared 10 shards');
    expect(view.text('job-exit')).toBe('0');

    // Escape closes it, focus back on the job's box
    await act(async () => view.byTestId('job-panel')[0]!.dispatchEvent(new KeyboardEvent('keydown', { key: 'Escape', bubbles: true })));
    await settle();
    expect(view.byTestId('job-panel')).toHaveLength(0);
    expect(document.activeElement).toBe(node(0));
  });

  it('keeps the open job’s panel current as its changes arrive', async () => {
    await openWorkflow('wf-1');
    await click(node(1));
    const d = diamond('wf-1');
    await push([jobEnv(d, { ...d.jobs[1]!, status: 'SUCCEEDED', exit_code: 0, ended_at: iso(T0 + 122_000) }, T0 + 122_000, 'RUNNING')]);
    const panel = view.byTestId('job-panel')[0]!;
    expect(view.text('job-status', panel)).toBe('SUCCEEDED');
    expect(view.text('job-exit', panel)).toBe('0');
    // ended: its output is read once more
    expect(workers.count('logs:w-1:200')).toBe(2);
  });

  it('cancels after a confirmation', async () => {
    await openWorkflow('wf-1');
    await click(view.byTestId('workflow-cancel')[0]);
    expect(view.text('cancel-confirmation')).toContain('(1 running is stopped)');
    await click(view.byTestId('cancel-keep')[0]);
    expect(api.calls.filter((c) => c.startsWith('cancel'))).toEqual([]);
    await click(view.byTestId('workflow-cancel')[0]);
    await click(view.byTestId('cancel-confirm')[0]);
    expect(api.calls).toContain('cancel:wf-1');
    expect(view.byTestId('workflow-status')[0]!.textContent).toBe('CANCELLED');
    expect([1, 2, 3].map((i) => node(i)!.dataset.status)).toEqual(['CANCELLED', 'CANCELLED', 'CANCELLED']);
    expect(node(0)!.dataset.status).toBe('SUCCEEDED');
    // nothing left to cancel or retry
    expect(view.byTestId('workflow-cancel')).toHaveLength(0);
    expect(view.byTestId('workflow-retry')).toHaveLength(0);
  });

  it('retries the failed and skipped jobs; shows the server’s refusal inline', async () => {
    await openWorkflow('wf-2');
    expect(view.byTestId('workflow-cancel')).toHaveLength(0);
    const plain = api.onRetry;
    api.onRetry = () => Promise.reject(new ApiError(409, 'invalid_state', 'workflow wf-2 is being cancelled'));
    await click(view.byTestId('workflow-retry')[0]);
    expect(view.text('action-error')).toBe('Could not retry: workflow wf-2 is being cancelled');
    api.onRetry = plain;
    await click(view.byTestId('workflow-retry')[0]);
    expect(api.count('retry:wf-2')).toBe(2);
    expect([0, 1].map((i) => node(i)!.className)).toEqual(['dag-node status-pending', 'dag-node status-pending']);
    expect(view.byTestId('action-error')).toHaveLength(0);
  });

  it('says so when there is no such workflow', async () => {
    view.unmount();
    await open('/workflows?id=nope');
    expect(view.text('workflow-missing')).toContain('The server has no workflow nope.');
  });

  it('draws a workflow of 1,000 jobs once; a change touches its box only', async () => {
    const jobs: Job[] = [];
    for (let i = 0; i < 1000; i++) {
      const layer = Math.floor(i / 100);
      jobs.push(job(i, { parent_indices: layer === 0 ? [] : [i - 100], depth: layer, status: layer === 0 ? 'RUNNING' : 'PENDING' }));
    }
    const big: Workflow = workflow('wf-big', jobs, { created_at: iso(T0 + 90_000) });
    api.workflows.push(big);
    view.unmount();
    await open('/workflows?id=wf-big');
    expect(view.byTestId('dag-column')).toHaveLength(10);
    expect(view.byTestId('dag-node')).toHaveLength(1000);
    expect(view.byTestId('dag-edge')).toHaveLength(900);
    expect(view.byTestId('dag-edge').every((e) => e.dataset.kind === 'parent')).toBe(true);
    const laidOut = layouts();
    const changed = new Set<Node>();
    const watch = new MutationObserver((records) => records.forEach((r) => changed.add(r.target)));
    watch.observe(view.byTestId('dag')[0]!, { subtree: true, attributes: true, childList: true, characterData: true });
    await push([jobEnv(big, { ...jobs[999]!, status: 'READY' }, T0 + 91_000, 'PENDING')]);
    await act(async () => undefined);
    const touched = [...changed].map((n) => (n instanceof Element ? n : n.parentElement!).closest('[data-testid="dag-node"]'));
    watch.disconnect();
    expect(node(999)!.dataset.status).toBe('READY');
    expect(touched.length).toBeGreaterThan(0);
    expect(touched.every((n) => n === node(999))).toBe(true);
    expect(layouts()).toBe(laidOut);
  });
});

describe('workflow API client', () => {
  it('calls the routes with the id as one path segment', async () => {
    const fetch = vi.fn(async (_url: string, _init?: RequestInit) => new Response(JSON.stringify({ workflows: [] }), { status: 200, headers: { 'Content-Type': 'application/json' } }));
    vi.stubGlobal('fetch', fetch);
    await workflowsApi.list(200);
    await workflowsApi.get('a/b');
    await workflowsApi.cancel('a/b');
    await workflowsApi.retry('a/b');
    expect(fetch.mock.calls.map((c) => [c[1]?.method, c[0]])).toEqual([
      ['GET', '/api/workflows?limit=200'],
      ['GET', '/api/workflows/a%2Fb'],
      ['DELETE', '/api/workflows/a%2Fb'],
      ['POST', '/api/workflows/a%2Fb/retry'],
    ]);
  });
});
