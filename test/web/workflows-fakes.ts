/** Workflow records, pushed envelopes of them, and a workflow API double for the Workflows view's tests. */
import type { Envelope } from '../../shared/events.ts';
import type { Job, JobStatus, Workflow, WorkflowChange, WorkflowSummary, WorkflowsResponse } from '../../shared/workflows.ts';
import { ApiError } from '../../web/src/lib/api.ts';
import type { WorkflowsApi } from '../../web/src/workflows/api.ts';
import { T0 } from './scheduler-fakes.ts';

export const iso = (ms: number) => new Date(ms).toISOString();

/** A PENDING job `j<index>` at depth 0 without parents, on a branch of its own, unless told otherwise. */
export function job(index: number, over: Partial<Job> = {}): Job {
  return {
    index, name: `j${index}`, job_type: 'train', branch_id: index, parent_indices: [], branch_after: null, status: 'PENDING', manual: false,
    resources: { cpu: 1000, memoryMiB: 512, gpus: 0 }, run: { cmd: ['python', 'train.py'], env_names: [] }, timeoutMs: null, retries: 0,
    attempts: 0, depth: 0, ready_at: null, started_at: null, ended_at: null, exit_code: null, log_tail: [], why: null,
    request_id: null, allocation_id: null, worker_id: null, ...over,
  };
}

export function countsOf(jobs: readonly Pick<Job, 'status'>[]): Partial<Record<JobStatus, number>> {
  const counts: Partial<Record<JobStatus, number>> = {};
  for (const j of jobs) counts[j.status] = (counts[j.status] ?? 0) + 1;
  return counts;
}

/** A workflow's summary; its counts from `jobs` when given. */
export function summary(id: string, over: Partial<WorkflowSummary> = {}, jobs?: readonly Job[]): WorkflowSummary {
  return {
    id, user_id: 'u-ana', username: 'ana', name: `flow ${id}`, status: 'RUNNING', created_at: iso(T0), started_at: iso(T0 + 1000), ended_at: null,
    job_count: jobs?.length ?? 1, counts: jobs ? countsOf(jobs) : { PENDING: 1 }, ...over,
  };
}

export function workflow(id: string, jobs: Job[], over: Partial<WorkflowSummary> = {}): Workflow {
  return { ...summary(id, over, jobs), jobs };
}

/**
 * prep (0) → train-a (1), train-b (2) → eval (3): depths 0, 1, 1, 2; four edges, and prep → eval by branch order
 * (both on branch `main`). prep has succeeded, train-a runs on worker w-1, train-b waits in the queue, eval waits for
 * both.
 */
export function diamond(id = 'wf-1'): Workflow {
  return workflow(id, [
    job(0, { name: 'prep', job_type: 'data', branch_id: 'main', status: 'SUCCEEDED', attempts: 1, exit_code: 0, started_at: iso(T0 + 1000), ended_at: iso(T0 + 61_000), log_tail: ['prepared 10 shards'] }),
    job(1, {
      name: 'train-a', parent_indices: [0], depth: 1, status: 'RUNNING', attempts: 1, retries: 2, started_at: iso(T0 + 62_000),
      request_id: 'req-1', allocation_id: 'alloc-1', worker_id: 'w-1', branch_id: 'a',
    }),
    job(2, { name: 'train-b', parent_indices: [0], depth: 1, status: 'QUEUED', request_id: 'req-2', why: 'queued behind bo (request req-9): gpu: needs 1, 0 free', branch_id: 'b' }),
    job(3, { name: 'eval', job_type: 'eval', branch_id: 'main', parent_indices: [1, 2], branch_after: 0, depth: 2 }),
  ]);
}

/** The workflow with one job replaced (and its counts again). */
export function withJob(w: Workflow, j: Job, over: Partial<WorkflowSummary> = {}): Workflow {
  const jobs = w.jobs.map((x) => (x.index === j.index ? j : x));
  return { ...w, jobs, counts: countsOf(jobs), ...over };
}

export function summaryOf(w: Workflow): WorkflowSummary {
  const { jobs: _jobs, ...s } = w;
  return s;
}

let nextId = 900;
export function workflowEnv(kind: WorkflowChange['kind'], w: Workflow | WorkflowSummary, at: number, job?: Job, previous?: WorkflowChange['previous']): Envelope<'workflow_update'> {
  const s = 'jobs' in w ? summaryOf(w) : w;
  return { id: ++nextId, type: 'workflow_update', ts: at, data: { kind, at, workflow: s, ...(job ? { job } : {}), ...(previous ? { previous } : {}) } };
}

/** A job's change as the server pushes it: the job, and the workflow's summary with it. */
export function jobEnv(w: Workflow, j: Job, at: number, previous?: JobStatus): Envelope<'workflow_update'> {
  return workflowEnv('job_state', withJob(w, j), at, j, previous);
}

/** Answers from its fields; records every call. A method may be replaced to fail or to hold its answer. */
export class FakeWorkflowsApi implements WorkflowsApi {
  calls: string[] = [];
  workflows: Workflow[] = [];
  /** replace to hold or fail a cancel; by default every job not ended is CANCELLED */
  onCancel: (id: string) => Promise<Workflow> = (id) => {
    const w = this.find(id);
    const jobs = w.jobs.map((j) => (['SUCCEEDED', 'FAILED', 'SKIPPED', 'CANCELLED'].includes(j.status) ? j : { ...j, status: 'CANCELLED' as const, why: 'cancelled' }));
    return Promise.resolve(this.save({ ...w, jobs, counts: countsOf(jobs), status: 'CANCELLED', ended_at: iso(T0 + 500_000) }));
  };
  /** replace to hold or fail a retry; by default the failed and skipped jobs are PENDING again */
  onRetry: (id: string) => Promise<Workflow> = (id) => {
    const w = this.find(id);
    const jobs = w.jobs.map((j) => (j.status === 'FAILED' || j.status === 'SKIPPED' ? { ...j, status: 'PENDING' as const, attempts: 0, why: null } : j));
    return Promise.resolve(this.save({ ...w, jobs, counts: countsOf(jobs), status: 'RUNNING', ended_at: null }));
  };

  count(call: string): number {
    return this.calls.filter((c) => c === call).length;
  }
  list(limit: number): Promise<WorkflowsResponse> {
    this.calls.push('list');
    const newest = [...this.workflows].sort((a, b) => Date.parse(b.created_at) - Date.parse(a.created_at)).slice(0, limit);
    return Promise.resolve({ workflows: newest.map(summaryOf) });
  }
  get(id: string): Promise<Workflow> {
    this.calls.push(`get:${id}`);
    try {
      return Promise.resolve(structuredClone(this.find(id)));
    } catch (err) {
      return Promise.reject(err);
    }
  }
  cancel(id: string): Promise<Workflow> {
    this.calls.push(`cancel:${id}`);
    return this.onCancel(id);
  }
  retry(id: string): Promise<Workflow> {
    this.calls.push(`retry:${id}`);
    return this.onRetry(id);
  }

  private find(id: string): Workflow {
    const w = this.workflows.find((x) => x.id === id);
    if (!w) throw new ApiError(404, 'not_found', `no workflow "${id}"`);
    return w;
  }
  private save(w: Workflow): Workflow {
    this.workflows = this.workflows.map((x) => (x.id === w.id ? w : x));
    return structuredClone(w);
  }
}
