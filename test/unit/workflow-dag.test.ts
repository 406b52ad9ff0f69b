/**
 * A workflow's jobs as a DAG: every problem of the parent indices named by job index and field, cycles named by
 * their indices in any order of the job list, and the order and depths of a valid one (a 100,000-job chain too).
 */
import { describe, expect, it } from 'vitest';
import { dagProblems, dagShape, findCycle } from '../../server/workloads/workflows/dag.ts';
import { WorkflowCreateBodySchema } from '../../shared/workflows.ts';

const jobs = (...parents: number[][]) => parents.map((p, i) => ({ name: `j${i}`, parent_indices: p }));

describe('workflow DAG', () => {
  it('accepts the reference three-job chain, a diamond, and parents listed after their children', () => {
    expect(dagProblems(jobs([], [0], [1]))).toEqual([]);
    expect(dagProblems(jobs([], [0], [0], [1, 2]))).toEqual([]);
    const late = jobs([2], [0], []);
    expect(dagProblems(late)).toEqual([]);
    expect(dagShape(late)).toEqual({ order: [2, 0, 1], depth: [1, 2, 0], children: [[1], [], [0]] });
    // the diamond: depth is the longest path
    expect(dagShape(jobs([], [0], [0, 1], [1, 2])).depth).toEqual([0, 1, 2, 3]);
  });

  it('names each bad parent index and duplicate name by job and field', () => {
    const bad = [
      { name: 'tile', parent_indices: [] },
      { name: 'infer', parent_indices: [1, 7, -1] },
      { name: 'tile', parent_indices: [0, 0] },
    ];
    expect(dagProblems(bad)).toEqual([
      { field: 'jobs.1.parent_indices.0', message: 'job 1 cannot be its own parent' },
      { field: 'jobs.1.parent_indices.1', message: '7 is not a job index (0–2)' },
      { field: 'jobs.1.parent_indices.2', message: '-1 is not a job index (0–2)' },
      { field: 'jobs.2.name', message: '"tile" is also the name of job 0' },
      { field: 'jobs.2.parent_indices.1', message: '0 is named twice' },
    ]);
  });

  it('finds a cycle and names its indices, from the lowest, each the parent of the next', () => {
    // 1 → 3 → 2 → 1 (2 is the parent of 1, 1 of 3, 3 of 2), 0 and 4 outside it
    const cyclic = jobs([], [0, 2], [3], [1], [2]);
    expect(findCycle(cyclic)).toEqual([1, 3, 2]);
    expect(dagProblems(cyclic)).toEqual([{ field: 'jobs.1.parent_indices', message: 'a cycle: 1 → 3 → 2 → 1 (each the parent of the next)' }]);
    expect(findCycle(jobs([1], [0]))).toEqual([0, 1]);
    expect(findCycle(jobs([], [0], [1]))).toBeNull();
  });

  it('handles a 100,000-job chain without running out of stack', () => {
    const chain = Array.from({ length: 100_000 }, (_, i) => ({ name: `j${i}`, parent_indices: i ? [i - 1] : [] }));
    expect(dagProblems(chain)).toEqual([]);
    const shape = dagShape(chain);
    expect(shape.depth[99_999]).toBe(99_999);
    chain[0] = { name: 'j0', parent_indices: [99_999] };
    expect(findCycle(chain)).toHaveLength(100_000);
  });

  it('parses the reference body: defaults, and the field of a bad one', () => {
    const body = WorkflowCreateBodySchema.parse({ user_id: 'u1', jobs: [{ name: 'tiling', job_type: 'tiling', branch_id: 0 }] });
    expect(body.jobs[0]).toEqual({ name: 'tiling', job_type: 'tiling', branch_id: 0, parent_indices: [], retries: 0 });
    const empty = WorkflowCreateBodySchema.safeParse({ user_id: 'u1', jobs: [] });
    expect(empty.error?.issues.map((i) => [i.path.join('.'), i.message])).toEqual([['jobs', 'a workflow has at least one job']]);
    const both = WorkflowCreateBodySchema.safeParse({ user_id: 'u1', jobs: [{ name: 'a', job_type: 't', branch_id: 1, resources: { gpus: 1, gpuMemoryMiB: 100 } }] });
    expect(both.error?.issues.map((i) => [i.path.join('.'), i.message])).toEqual([['jobs.0.resources.gpuMemoryMiB', 'gpus or gpuMemoryMiB, not both']]);
  });
});
