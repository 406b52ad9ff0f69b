/**
 * WorkflowsStore: asks GET /api/workflows only while watched and once the push is live; every pushed change updates
 * its workflow's summary (also those that arrive while the list is on its way); the open workflow is read with its
 * jobs (GET /api/workflows/{id}) and its `job_state` changes replace its jobs — those that arrive during the read
 * too — without laying the DAG out again (the shape keeps its identity); cancel and retry go through the API, their
 * answer taken with what was pushed meanwhile on top; a 404 is a missing workflow, not a failure to retry; a replay
 * gap reads everything again, and a failed read is retried on the injected clock.
 */
import { describe, expect, it } from 'vitest';
import type { Workflow, WorkflowsResponse } from '../../shared/workflows.ts';
import { ApiError } from '../../web/src/lib/api.ts';
import { WorkflowsStore } from '../../web/src/workflows/store.ts';
import { FakeClock, StaticSource } from './fakes.ts';
import { T0, liveSnapshot } from './scheduler-fakes.ts';
import { FakeWorkflowsApi, diamond, iso, job, jobEnv, summary, withJob, workflow, workflowEnv } from './workflows-fakes.ts';

const flush = () => new Promise((r) => setTimeout(r, 0));

function setup(api: FakeWorkflowsApi, state = liveSnapshot(), maxWorkflows?: number) {
  const source = new StaticSource(state);
  const clock = new FakeClock();
  clock.now = T0;
  const store = new WorkflowsStore(source, { api, now: () => clock.now, setTimeout: clock.setTimeout, clearTimeout: clock.clearTimeout }, { maxWorkflows });
  store.start();
  return { source, clock, store };
}

/** wf-1 (the diamond, running), wf-2 (bo's, failed; created later), wf-0 (succeeded; the oldest) */
function three(api: FakeWorkflowsApi) {
  api.workflows = [
    diamond('wf-1'),
    workflow('wf-2', [job(0, { status: 'FAILED' }), job(1, { status: 'SKIPPED', parent_indices: [0], depth: 1 })], { username: 'bo', status: 'FAILED', created_at: iso(T0 + 5000) }),
    workflow('wf-0', [job(0, { status: 'SUCCEEDED' })], { status: 'SUCCEEDED', created_at: iso(T0 - 5000), name: null }),
  ];
}

const ids = (store: WorkflowsStore) => store.getSnapshot().workflows.map((w) => w.id);
const listed = (store: WorkflowsStore, id: string) => store.getSnapshot().workflows.find((w) => w.id === id);

describe('WorkflowsStore: the list', () => {
  it('asks nothing until watched and live, then lists once, newest first, with the states and users', async () => {
    const api = new FakeWorkflowsApi();
    three(api);
    const { source, store } = setup(api, liveSnapshot({ state: { kind: 'connecting', transport: 'websocket' } }));
    const release = store.watch();
    await flush();
    expect(api.calls).toEqual([]); // not live yet
    source.set(liveSnapshot());
    await flush();
    expect(api.calls).toEqual(['list']);
    const snap = store.getSnapshot();
    expect(snap.ready).toBe(true);
    expect(ids(store)).toEqual(['wf-2', 'wf-1', 'wf-0']);
    expect(snap.byStatus).toEqual({ FAILED: 1, RUNNING: 1, SUCCEEDED: 1 });
    expect(snap.users).toEqual(['ana', 'bo']);
    expect(listed(store, 'wf-1')!.counts).toEqual({ SUCCEEDED: 1, RUNNING: 1, QUEUED: 1, PENDING: 1 });
    release();
    source.set(liveSnapshot());
    await flush();
    expect(api.calls).toEqual(['list']);
  });

  it('takes every change’s summary, also those that arrive while the list is on its way', async () => {
    const api = new FakeWorkflowsApi();
    three(api);
    let answer: () => void = () => undefined;
    const plain = api.list.bind(api);
    api.list = (limit) => new Promise<WorkflowsResponse>((ok) => (answer = () => void plain(limit).then(ok)));
    const { source, store } = setup(api);
    store.watch();
    await flush();
    // while the list is on its way: wf-3 is created, and wf-1's train-b starts
    const wf3 = workflow('wf-3', [job(0)], { status: 'PENDING', created_at: iso(T0 + 9000), started_at: null });
    const d = diamond('wf-1');
    source.emit('workflow_update', [
      workflowEnv('workflow_created', wf3, T0 + 9000),
      jobEnv(d, { ...d.jobs[2]!, status: 'RUNNING', attempts: 1, why: null }, T0 + 9001, 'QUEUED'),
    ]);
    answer();
    await flush();
    expect(ids(store)).toEqual(['wf-3', 'wf-2', 'wf-1', 'wf-0']);
    expect(listed(store, 'wf-1')!.counts).toEqual({ SUCCEEDED: 1, RUNNING: 2, PENDING: 1 });

    // a workflow's state: the summary as it is now
    source.emit('workflow_update', [workflowEnv('workflow_state', { ...summary('wf-2', { username: 'bo', created_at: iso(T0 + 5000) }), status: 'RUNNING' }, T0 + 9100, undefined, 'FAILED')]);
    expect(listed(store, 'wf-2')!.status).toBe('RUNNING');
    expect(store.getSnapshot().byStatus).toEqual({ PENDING: 1, RUNNING: 2, SUCCEEDED: 1 });
  });

  it('keeps the newest workflows only (and the open one)', async () => {
    const api = new FakeWorkflowsApi();
    three(api);
    const { source, store } = setup(api, liveSnapshot(), 3);
    store.watch();
    const close = store.open('wf-0');
    await flush();
    source.emit('workflow_update', [workflowEnv('workflow_created', summary('wf-4', { created_at: iso(T0 + 20_000) }), T0 + 20_000)]);
    expect(ids(store)).toEqual(['wf-4', 'wf-2', 'wf-1', 'wf-0']);
    close();
    source.emit('workflow_update', [workflowEnv('workflow_created', summary('wf-5', { created_at: iso(T0 + 30_000) }), T0 + 30_000)]);
    expect(ids(store)).toEqual(['wf-5', 'wf-4', 'wf-2']);
  });

  it('reads everything again after a replay gap, and retries a failed read on the injected clock', async () => {
    const api = new FakeWorkflowsApi();
    three(api);
    const { source, clock, store } = setup(api);
    const plain = api.list.bind(api);
    let failing = true;
    api.list = (limit) => (failing ? Promise.reject(new Error('boom')) : plain(limit));
    store.watch();
    await flush();
    expect(store.getSnapshot()).toMatchObject({ ready: false, error: 'boom' });
    failing = false;
    clock.advance(1999);
    await flush();
    expect(store.getSnapshot().ready).toBe(false);
    clock.advance(1);
    await flush();
    expect(store.getSnapshot()).toMatchObject({ ready: true, error: null });

    // events were lost: wf-1 ended meanwhile; only the list says so
    const close = store.open('wf-1');
    await flush();
    api.workflows = api.workflows.map((w) => (w.id === 'wf-1' ? withJob(w, { ...w.jobs[3]!, status: 'SUCCEEDED' }, { status: 'SUCCEEDED' }) : w));
    const gets = api.count('get:wf-1');
    source.gap({ lastEventId: 3, oldestId: 50, reason: 'out_of_window' });
    await flush();
    expect(listed(store, 'wf-1')!.status).toBe('SUCCEEDED');
    expect(api.count('get:wf-1')).toBe(gets + 1);
    expect(store.getSnapshot().opened!.jobs[3]!.status).toBe('SUCCEEDED');
    close();
  });
});

describe('WorkflowsStore: the open workflow', () => {
  it('reads it with its jobs once live, and applies its jobs’ changes (only to the job that changed; the shape stays)', async () => {
    const api = new FakeWorkflowsApi();
    three(api);
    const { source, store } = setup(api);
    store.watch();
    await flush();
    const close = store.open('wf-1');
    expect(store.getSnapshot().opened).toMatchObject({ id: 'wf-1', ready: false, summary: { name: 'flow wf-1' } });
    await flush();
    expect(api.calls).toEqual(['list', 'get:wf-1']);
    const before = store.getSnapshot().opened!;
    expect(before).toMatchObject({ ready: true, missing: false, error: null });
    expect(before.jobs.map((j) => [j.name, j.status, j.depth])).toEqual([['prep', 'SUCCEEDED', 0], ['train-a', 'RUNNING', 1], ['train-b', 'QUEUED', 1], ['eval', 'PENDING', 2]]);
    expect(before.shape.map((s) => s.parents)).toEqual([[], [0], [0], [1, 2]]);

    // train-a succeeds: its job is replaced, the others keep their records, the shape its identity
    const d = diamond('wf-1');
    const done = { ...d.jobs[1]!, status: 'SUCCEEDED' as const, exit_code: 0, ended_at: iso(T0 + 90_000) };
    source.emit('workflow_update', [jobEnv(d, done, T0 + 90_000, 'RUNNING')]);
    const after = store.getSnapshot().opened!;
    expect(after.jobs[1]).toEqual(done);
    expect(after.jobs[0]).toBe(before.jobs[0]);
    expect(after.jobs[2]).toBe(before.jobs[2]);
    expect(after.shape).toBe(before.shape);
    expect(after.summary!.counts).toEqual({ SUCCEEDED: 2, QUEUED: 1, PENDING: 1 });
    // the list's summary too
    expect(listed(store, 'wf-1')!.counts).toEqual({ SUCCEEDED: 2, QUEUED: 1, PENDING: 1 });

    // another workflow's job: its summary only
    const wf2 = api.workflows.find((w) => w.id === 'wf-2')!;
    source.emit('workflow_update', [jobEnv(wf2, { ...wf2.jobs[0]!, status: 'RUNNING' }, T0 + 91_000, 'FAILED')]);
    expect(store.getSnapshot().opened!.jobs).toBe(after.jobs);
    expect(listed(store, 'wf-2')!.counts).toEqual({ RUNNING: 1, SKIPPED: 1 });

    // a view no longer shows it: dropped, and its changes go to the list only
    close();
    expect(store.getSnapshot().opened).toBeNull();
    source.emit('workflow_update', [jobEnv(d, { ...d.jobs[3]!, status: 'READY' }, T0 + 92_000, 'PENDING')]);
    expect(store.getSnapshot().opened).toBeNull();
    store.open('wf-1');
    await flush();
    expect(api.count('get:wf-1')).toBe(2);
  });

  it('applies the changes that arrive while it is read on top of the answer', async () => {
    const api = new FakeWorkflowsApi();
    three(api);
    let answer: () => void = () => undefined;
    const plain = api.get.bind(api);
    api.get = (id) => new Promise<Workflow>((ok, no) => (answer = () => void plain(id).then(ok, no)));
    const { source, store } = setup(api);
    store.open('wf-1');
    await flush();
    const d = diamond('wf-1');
    const started = { ...d.jobs[2]!, status: 'RUNNING' as const, attempts: 1, why: null, worker_id: 'w-2' };
    source.emit('workflow_update', [jobEnv(d, started, T0 + 5000, 'QUEUED')]);
    // not read yet: nothing to apply it to
    expect(store.getSnapshot().opened!.jobs).toEqual([]);
    answer();
    await flush();
    expect(store.getSnapshot().opened!.jobs[2]).toEqual(started);
    expect(store.getSnapshot().opened!.summary!.counts).toEqual({ SUCCEEDED: 1, RUNNING: 2, PENDING: 1 });
  });

  it('takes a larger structure only when it changed (a job’s parents or depth)', async () => {
    const api = new FakeWorkflowsApi();
    three(api);
    const { source, store } = setup(api);
    store.open('wf-1');
    await flush();
    const shape = store.getSnapshot().opened!.shape;
    // read again with the same structure (a gap): same shape
    source.gap({ lastEventId: 3, oldestId: 50, reason: 'out_of_window' });
    await flush();
    expect(api.count('get:wf-1')).toBe(2);
    expect(store.getSnapshot().opened!.shape).toBe(shape);
    // a job with other parents: a new shape
    const d = diamond('wf-1');
    source.emit('workflow_update', [jobEnv(d, { ...d.jobs[3]!, parent_indices: [1], depth: 2 }, T0 + 1000)]);
    expect(store.getSnapshot().opened!.shape).not.toBe(shape);
    expect(store.getSnapshot().opened!.shape[3]!.parents).toEqual([1]);
  });

  it('says the workflow is missing on a 404, and does not ask again', async () => {
    const api = new FakeWorkflowsApi();
    three(api);
    const { clock, store } = setup(api);
    store.open('nope');
    await flush();
    expect(store.getSnapshot().opened).toMatchObject({ id: 'nope', ready: true, missing: true, error: null, jobs: [] });
    clock.advance(120_000);
    await flush();
    expect(api.count('get:nope')).toBe(1);
  });

  it('retries a failed read on the injected clock', async () => {
    const api = new FakeWorkflowsApi();
    three(api);
    const plain = api.get.bind(api);
    let failing = true;
    api.get = (id) => (failing ? Promise.reject(new Error('down')) : plain(id));
    const { clock, store } = setup(api);
    store.open('wf-1');
    await flush();
    expect(store.getSnapshot().opened).toMatchObject({ ready: false, error: 'down' });
    failing = false;
    clock.advance(2000);
    await flush();
    expect(store.getSnapshot().opened).toMatchObject({ ready: true, error: null });
    expect(store.getSnapshot().opened!.jobs).toHaveLength(4);
  });
});

describe('WorkflowsStore: cancel and retry', () => {
  it('cancels through the API: under way until it answers, the answer taken with what was pushed meanwhile on top', async () => {
    const api = new FakeWorkflowsApi();
    three(api);
    const { source, store } = setup(api);
    store.watch();
    store.open('wf-1');
    await flush();
    let answer: () => void = () => undefined;
    const plain = api.onCancel;
    api.onCancel = (id) => new Promise<Workflow>((ok) => (answer = () => void plain(id).then(ok)));
    const done = store.act('cancel');
    await flush();
    expect(api.calls).toContain('cancel:wf-1');
    expect(store.getSnapshot().opened).toMatchObject({ acting: 'cancel', actionError: null });
    // a second click does not ask again
    expect(await store.act('cancel')).toBe(false);
    // pushed while the answer is on its way: train-a's worker has stopped, with its exit code
    const d = diamond('wf-1');
    const stopped = { ...d.jobs[1]!, status: 'CANCELLED' as const, exit_code: 143, why: 'cancelled' };
    source.emit('workflow_update', [workflowEnv('job_state', withJob(d, stopped, { status: 'CANCELLED' }), T0 + 100, stopped, 'RUNNING')]);
    answer();
    expect(await done).toBe(true);
    const o = store.getSnapshot().opened!;
    expect(o.acting).toBeNull();
    expect(o.jobs.map((j) => j.status)).toEqual(['SUCCEEDED', 'CANCELLED', 'CANCELLED', 'CANCELLED']);
    expect(o.jobs[1]!.exit_code).toBe(143);
    expect(listed(store, 'wf-1')!.status).toBe('CANCELLED');
  });

  it('retries through the API; keeps the server’s refusal; a 404 reads the workflow again', async () => {
    const api = new FakeWorkflowsApi();
    three(api);
    const { store } = setup(api);
    store.open('wf-2');
    await flush();
    expect(await store.act('retry')).toBe(true);
    expect(store.getSnapshot().opened!.jobs.map((j) => j.status)).toEqual(['PENDING', 'PENDING']);
    expect(store.getSnapshot().opened!.summary!.status).toBe('RUNNING');

    api.onRetry = () => Promise.reject(new ApiError(409, 'invalid_state', 'workflow wf-2 has nothing to retry'));
    expect(await store.act('retry')).toBe(false);
    expect(store.getSnapshot().opened).toMatchObject({ acting: null, actionError: { action: 'retry', message: 'workflow wf-2 has nothing to retry' } });
    expect(api.count('get:wf-2')).toBe(1);
    api.onCancel = () => Promise.reject(new ApiError(404, 'not_found', 'no workflow "wf-2"'));
    await store.act('cancel');
    await flush();
    expect(store.getSnapshot().opened!.actionError).toEqual({ action: 'cancel', message: 'no workflow "wf-2"' });
    expect(api.count('get:wf-2')).toBe(2);
  });
});
