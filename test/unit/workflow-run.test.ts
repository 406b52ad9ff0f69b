/**
 * One workflow's states: readiness by parents and branch order, retries, SKIPPED descendants, the workflow's end,
 * cancel and retry, and a resume from stored states.
 */
import { describe, expect, it } from 'vitest';
import { WorkflowRun, type RunJob } from '../../server/workloads/workflows/run.ts';

const job = (i: number, parents: number[], branch: number | string = i, retries = 0): RunJob => ({ name: `j${i}`, parent_indices: parents, branch_id: branch, retries });
const statuses = (r: WorkflowRun) => r.jobs.map((j) => j.status);

describe('WorkflowRun', () => {
  it('the reference chain: one job at a time, the workflow succeeds with the last', () => {
    const r = new WorkflowRun([job(0, [], 0), job(1, [0], 0), job(2, [1], 0)]);
    expect(r.status).toBe('PENDING');
    expect(r.start()).toEqual([0]);
    r.queued(0);
    r.running(0);
    expect(r.status).toBe('RUNNING');
    expect(r.succeeded(0)).toEqual([1]);
    r.running(1);
    expect(r.succeeded(1)).toEqual([2]);
    r.running(2);
    expect(r.succeeded(2)).toEqual([]);
    expect(r.status).toBe('SUCCEEDED');
  });

  it('a diamond and fan-out / fan-in over two branches: parallel branches ready together, the join after both', () => {
    // 0 splits into branches a (1, 2) and b (3); 4 joins
    const r = new WorkflowRun([job(0, [], 'a'), job(1, [0], 'a'), job(2, [1], 'a'), job(3, [0], 'b'), job(4, [2, 3], 'a')]);
    expect(r.start()).toEqual([0]);
    r.running(0);
    expect(r.succeeded(0)).toEqual([1, 3]);
    r.running(1);
    r.running(3);
    expect(r.succeeded(3)).toEqual([]);
    expect(r.succeeded(1)).toEqual([2]);
    r.running(2);
    expect(r.succeeded(2)).toEqual([4]);
  });

  it('jobs of one branch keep their order even without a parent link', () => {
    const r = new WorkflowRun([job(0, [], 'x'), job(1, [], 'x'), job(2, [], 'y')]);
    expect(r.start()).toEqual([0, 2]);
    r.running(0);
    expect(r.succeeded(0)).toEqual([1]);
  });

  it('a failing job is retried, then FAILED; its descendants SKIPPED; the workflow FAILED once nothing else runs', () => {
    const r = new WorkflowRun([job(0, []), job(1, [0], 1, 1), job(2, [1]), job(3, [2]), job(4, [0])]);
    r.start();
    r.running(0);
    expect(r.succeeded(0)).toEqual([1, 4]);
    r.running(1);
    expect(r.failed(1)).toEqual({ retry: true, skipped: [] });
    expect(r.jobs[1]).toEqual({ status: 'READY', attempts: 1 });
    r.running(1);
    r.running(4);
    expect(r.failed(1)).toEqual({ retry: false, skipped: [2, 3] });
    expect(statuses(r)).toEqual(['SUCCEEDED', 'FAILED', 'SKIPPED', 'SKIPPED', 'RUNNING']);
    expect(r.status).toBe('RUNNING');
    r.succeeded(4);
    expect(r.status).toBe('FAILED');
    // retry: the failed and skipped run again, what succeeded stays
    expect(r.retry()).toEqual([1]);
    expect(statuses(r)).toEqual(['SUCCEEDED', 'READY', 'PENDING', 'PENDING', 'SUCCEEDED']);
  });

  it('cancel: what runs or waits for a grant is named to stop, every job not ended is CANCELLED', () => {
    const r = new WorkflowRun([job(0, []), job(1, []), job(2, [0, 1]), job(3, [])]);
    r.start();
    r.running(0);
    r.queued(1);
    r.running(3);
    r.succeeded(3);
    expect(r.cancel()).toEqual([0, 1]);
    expect(statuses(r)).toEqual(['CANCELLED', 'CANCELLED', 'CANCELLED', 'SUCCEEDED']);
    expect(r.status).toBe('CANCELLED');
    expect(r.retry()).toEqual([]);
  });

  it('resumes from stored states: nothing that succeeded runs again, nothing becomes ready twice', () => {
    const spec = [job(0, []), job(1, [0]), job(2, [1])];
    const r = new WorkflowRun(spec, [{ status: 'SUCCEEDED', attempts: 1 }, { status: 'RUNNING', attempts: 1 }, { status: 'PENDING', attempts: 0 }]);
    expect(r.start()).toEqual([]);
    expect(r.succeeded(1)).toEqual([2]);
    expect(() => r.succeeded(0)).toThrow(/job 0 is SUCCEEDED; it cannot become SUCCEEDED/);
  });
});
