/**
 * The workflow book (pure) and its store: the changes a workflow's life makes (created, each job's state with its
 * times, the workflow's state), what a job says of its runs (why it waits, how it failed, which failure skipped
 * it), preemption not counted against retries, errors of state. The store's round trip: store-workloads.test.ts.
 */
import { describe, expect, it } from 'vitest';
import { ManualClock } from '../../server/clock.ts';
import { WorkflowBook } from '../../server/workloads/workflows/book.ts';
import { dagProblems, dagShape } from '../../server/workloads/workflows/dag.ts';
import { jobWorkerBody } from '../../server/workloads/workflows/jobs.ts';
import { JobInputSchema, type JobInput, type WorkflowChange } from '../../shared/workflows.ts';

const T0 = 1_700_000_000_000;
const job = (name: string, parents: number[], extra: Partial<JobInput> = {}): JobInput =>
  JobInputSchema.parse({ name, job_type: 't', branch_id: name, parent_indices: parents, run: { cmd: `echo ${name}` }, ...extra });

function book() {
  const clock = new ManualClock(T0);
  const b = new WorkflowBook(clock);
  const changes: WorkflowChange[] = [];
  b.onChange((c) => changes.push(...c));
  return { clock, b, changes };
}

const ID = '00000000-0000-4000-8000-000000000001';
const make = (b: WorkflowBook, jobs: JobInput[]) => b.create({ id: ID, user_id: 'u1', username: 'ana', name: 'w', jobs, depth: dagShape(jobs).depth });

describe('WorkflowBook', () => {
  it('reports each change: created, jobs READY with ready_at, RUNNING with started_at, SUCCEEDED, and the workflow’s own states', () => {
    const { clock, b, changes } = book();
    expect(make(b, [job('a', []), job('b', [0])])).toEqual([0]);
    expect(changes.map((c) => [c.kind, c.job?.index, c.job?.status, c.previous])).toEqual([
      ['workflow_created', undefined, undefined, undefined], ['job_state', 0, 'READY', 'PENDING'], ['workflow_state', undefined, undefined, 'PENDING'],
    ]);
    expect(changes.at(-1)!.workflow).toMatchObject({ status: 'RUNNING', counts: { READY: 1, PENDING: 1 }, started_at: new Date(T0).toISOString() });
    changes.length = 0;
    b.launching(ID, 0, 'w-0');
    b.queued(ID, 0, { request_id: 'r1', why: 'queued behind bo' });
    clock.set(T0 + 500);
    b.running(ID, 0, { request_id: 'r1', allocation_id: 'a1', why: null });
    clock.set(T0 + 900);
    expect(b.succeeded(ID, 0, { exit_code: 0, log_tail: ['a'] })).toEqual([1]);
    const j0 = b.job(ID, 0);
    expect(j0).toMatchObject({ status: 'SUCCEEDED', attempts: 1, exit_code: 0, worker_id: 'w-0', request_id: 'r1', allocation_id: 'a1', why: null, log_tail: ['a'] });
    expect([j0.ready_at, j0.started_at, j0.ended_at]).toEqual([T0, T0 + 500, T0 + 900].map((t) => new Date(t).toISOString()));
    expect(b.job(ID, 1)).toMatchObject({ status: 'READY', ready_at: new Date(T0 + 900).toISOString() });
    b.running(ID, 1, { request_id: 'r2', allocation_id: 'a2', why: null });
    b.succeeded(ID, 1, { exit_code: 0, log_tail: [] });
    expect(b.view(ID)).toMatchObject({ status: 'SUCCEEDED', ended_at: new Date(T0 + 900).toISOString(), counts: { SUCCEEDED: 2 } });
    expect(changes.at(-1)).toMatchObject({ kind: 'workflow_state', previous: 'RUNNING', workflow: { status: 'SUCCEEDED' } });
  });

  it('a failure with retries left is READY again and says so; the last one FAILED, its descendants SKIPPED naming it', () => {
    const { b } = book();
    make(b, [job('a', [], { retries: 1 }), job('b', [0]), job('c', [1])]);
    b.running(ID, 0, { request_id: null, allocation_id: null, why: null });
    expect(b.failed(ID, 0, { exit_code: 2, log_tail: [], why: 'exited with code 2' })).toEqual({ retry: true });
    expect(b.job(ID, 0)).toMatchObject({ status: 'READY', attempts: 1, why: 'retrying (1 of 2 runs so far): exited with code 2' });
    b.running(ID, 0, { request_id: null, allocation_id: null, why: null });
    expect(b.failed(ID, 0, { exit_code: 2, log_tail: [], why: 'exited with code 2' })).toEqual({ retry: false });
    expect(b.view(ID).jobs.map((j) => [j.status, j.why])).toEqual([['FAILED', 'exited with code 2'], ['SKIPPED', 'skipped: job 0 (a) failed'], ['SKIPPED', 'skipped: job 0 (a) failed']]);
    expect(b.status(ID)).toBe('FAILED');
    expect(b.retry(ID)).toEqual([0]);
    expect(b.view(ID).jobs.map((j) => [j.status, j.attempts])).toEqual([['READY', 0], ['PENDING', 0], ['PENDING', 0]]);
  });

  it('a preempted run is not counted: READY again with the same attempts', () => {
    const { b } = book();
    make(b, [job('a', [])]);
    b.running(ID, 0, { request_id: null, allocation_id: null, why: null });
    b.interrupted(ID, 0, 'preempted for request r9');
    expect(b.job(ID, 0)).toMatchObject({ status: 'READY', attempts: 0, why: 'preempted for request r9; it runs again when granted' });
  });

  it('a job whose run ended while nobody watched it still counts the run', () => {
    const { b } = book();
    make(b, [job('a', [])]);
    b.succeeded(ID, 0, { exit_code: 0, log_tail: [] });
    expect(b.job(ID, 0)).toMatchObject({ status: 'SUCCEEDED', attempts: 1 });
  });

  it('cancel: the jobs not ended CANCELLED, those queued or running returned; cancel and retry after it are 409; unknown ids 404', () => {
    const { b } = book();
    make(b, [job('a', []), job('b', []), job('c', [0, 1])]);
    b.running(ID, 0, { request_id: null, allocation_id: null, why: null });
    b.queued(ID, 1, { request_id: 'r', why: 'queued' });
    expect(b.cancel(ID)).toEqual([0, 1]);
    expect(b.view(ID).jobs.map((j) => [j.status, j.why])).toEqual([['CANCELLED', 'cancelled'], ['CANCELLED', 'cancelled'], ['CANCELLED', 'cancelled']]);
    expect(b.status(ID)).toBe('CANCELLED');
    expect(() => b.cancel(ID)).toThrow(expect.objectContaining({ status: 409 }));
    expect(() => b.retry(ID)).toThrow(expect.objectContaining({ status: 409 }));
    expect(() => b.view('nope')).toThrow(expect.objectContaining({ status: 404 }));
    expect(() => b.job(ID, 3)).toThrow(expect.objectContaining({ status: 404 }));
  });

  it('lists newest first, by user and status', () => {
    const { b } = book();
    b.create({ id: 'w1', user_id: 'u1', username: 'ana', name: null, jobs: [job('a', [], { run: undefined })], depth: [0] });
    b.create({ id: 'w2', user_id: 'u2', username: 'bo', name: null, jobs: [job('a', [])], depth: [0] });
    expect(b.list({}).map((w) => w.id)).toEqual(['w2', 'w1']);
    expect(b.list({ user_id: 'u1' }).map((w) => w.id)).toEqual(['w1']);
    expect(b.list({ status: 'SUCCEEDED' })).toEqual([]);
    expect(b.list({ limit: 1 }).map((w) => w.id)).toEqual(['w2']);
  });
});

describe('the DAG with branch order', () => {
  it('refuses a branch order that contradicts the parents, as a cycle, and says so', () => {
    const jobs = [{ name: 'a', parent_indices: [1], branch_id: 'x' }, { name: 'b', parent_indices: [], branch_id: 'x' }];
    expect(dagProblems(jobs)).toEqual([{ field: 'jobs.0.parent_indices', message: 'a cycle: 0 → 1 → 0 (each the parent of the next, or listed before it in its branch)' }]);
    // in separate branches the same parents are fine, and the depth follows them
    expect(dagShape([{ ...jobs[0]!, branch_id: 'x' }, { ...jobs[1]!, branch_id: 'y' }]).depth).toEqual([1, 0]);
  });

  it('says which job of its branch a job runs after, when that is not a parent already', () => {
    const { b } = book();
    make(b, [job('a', [], { branch_id: 'x' }), job('b', [], { branch_id: 'x' }), job('c', [1], { branch_id: 'x' }), job('d', [], { branch_id: 'y' })]);
    expect(b.view(ID).jobs.map((j) => j.branch_after)).toEqual([null, 0, null, null]);
    expect(b.view(ID).jobs.map((j) => j.status)).toEqual(['READY', 'PENDING', 'PENDING', 'READY']);
  });

  it('a job’s worker: one replica owned by the user, its resources, its environment naming the workflow and job', () => {
    const body = jobWorkerBody(ID, 3, 2, job('tile', [], { resources: { gpuMemoryMiB: 4096 }, run: { cmd: 'x', env_vars: { A: '1' } } }), 'ana', 'local');
    expect(body).toEqual({
      name: `wf-${ID}-3-2`, replicas: 1, backend: 'local', owner: 'ana',
      specs: [{ cpu: 0, mem: 0, gpu: 0, gpu_mem: 4096, cmd: 'x', env_vars: { A: '1', ARBITER_WORKFLOW_ID: ID, ARBITER_JOB_INDEX: '3', ARBITER_JOB_NAME: 'tile' } }],
    });
  });
});
