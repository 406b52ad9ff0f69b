/**
 * The workflows, pure: each workflow's jobs, their states (WorkflowRun) and what is known of each job's runs —
 * times, exit code, log tail, its request, allocation and worker, why it is where it is. Every change is a
 * WorkflowChange record, stored and pushed (`workflow_update`) by the service after the fact, like the worker
 * book's. The service (runtime/workflows/) turns READY jobs into workers and reports what their workers do.
 */
import type { Clock } from '../../clock.ts';
import type { Job, JobInput, JobStatus, Workflow, WorkflowChange, WorkflowStatus, WorkflowSummary } from '../../../shared/workflows.ts';
import { ArbiterError } from '../../../shared/error.ts';
import { jobResources } from './jobs.ts';
import { withBranchOrder } from './dag.ts';
import { WorkflowRun, type JobState } from './run.ts';

/** What is known of a job's runs, beside its state. Times are ms since epoch. */
export interface JobRuns {
  ready_at: number | null;
  started_at: number | null;
  ended_at: number | null;
  exit_code: number | null;
  log_tail: string[];
  result?: unknown;
  why: string | null;
  request_id: string | null;
  allocation_id: string | null;
  worker_id: string | null;
  /** workers asked for so far (names the next one: jobs.ts) */
  launches: number;
}

/** A workflow as stored: what was submitted, and the state of each job. */
export interface WorkflowRecord {
  id: string;
  user_id: string;
  username: string;
  name: string | null;
  created_at: number;
  started_at: number | null;
  ended_at: number | null;
  cancelled: boolean;
  jobs: JobInput[];
  depth: number[];
  states: JobState[];
  runs: JobRuns[];
}

type Listener = (changes: WorkflowChange[]) => void;

const ENDED_WORKFLOW: ReadonlySet<WorkflowStatus> = new Set<WorkflowStatus>(['SUCCEEDED', 'FAILED', 'CANCELLED']);
export const ENDED_JOB: ReadonlySet<JobStatus> = new Set<JobStatus>(['SUCCEEDED', 'FAILED', 'SKIPPED', 'CANCELLED']);

export class WorkflowError extends ArbiterError {
  constructor(code: 'not_found' | 'invalid_state', message: string, details?: unknown) {
    super(code === 'not_found' ? 404 : 409, code, message, details);
  }
}

interface Entry {
  rec: WorkflowRecord;
  run: WorkflowRun;
  /** each job's branch predecessor when it is not a parent (withBranchOrder), else null */
  after: (number | null)[];
}

function branchAfter(jobs: readonly JobInput[]): (number | null)[] {
  return withBranchOrder(jobs).map((j, i) => (j.parent_indices.length > jobs[i]!.parent_indices.length ? j.parent_indices.at(-1)! : null));
}

const freshRuns = (): JobRuns => ({
  ready_at: null, started_at: null, ended_at: null, exit_code: null, log_tail: [], why: null, request_id: null, allocation_id: null, worker_id: null, launches: 0,
});

export class WorkflowBook {
  private readonly entries = new Map<string, Entry>();
  private readonly listeners = new Set<Listener>();

  constructor(private readonly clock: Clock) {}

  onChange(listener: Listener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  // ------------------------------------------------------------------ reading

  has(id: string): boolean {
    return this.entries.has(id);
  }

  record(id: string): WorkflowRecord {
    return this.entry(id).rec;
  }

  /** Workflows, newest first, of a user and in a state when given. */
  list(q: { user_id?: string | undefined; status?: WorkflowStatus | undefined; limit?: number }): WorkflowSummary[] {
    const out: WorkflowSummary[] = [];
    for (const e of [...this.entries.values()].reverse()) {
      if (q.user_id !== undefined && e.rec.user_id !== q.user_id) continue;
      if (q.status !== undefined && e.run.status !== q.status) continue;
      out.push(this.summary(e));
      if (out.length >= (q.limit ?? Infinity)) break;
    }
    return out;
  }

  view(id: string): Workflow {
    const e = this.entry(id);
    return { ...this.summary(e), jobs: e.rec.jobs.map((_, i) => this.jobView(e, i)) };
  }

  job(id: string, index: number): Job {
    const e = this.entry(id);
    if (!Number.isInteger(index) || index < 0 || index >= e.rec.jobs.length) throw new WorkflowError('not_found', `workflow ${id} has no job ${index} (0–${e.rec.jobs.length - 1})`);
    return this.jobView(e, index);
  }

  status(id: string): WorkflowStatus {
    return this.entry(id).run.status;
  }

  /** Workflows not ended (the service resumes them after a restart). */
  unfinished(): WorkflowRecord[] {
    return [...this.entries.values()].filter((e) => !ENDED_WORKFLOW.has(e.run.status)).map((e) => e.rec);
  }

  // ------------------------------------------------------------------ changes

  /** Restore stored workflows (no changes: they are stored already). */
  restore(records: readonly WorkflowRecord[]): void {
    for (const rec of records) {
      const run = new WorkflowRun(rec.jobs, rec.states, { cancelled: rec.cancelled });
      rec.states = run.jobs;
      this.entries.set(rec.id, { rec, run, after: branchAfter(rec.jobs) });
    }
  }

  /** A new workflow (validated), started: its first jobs READY. Returns them. */
  create(w: { id: string; user_id: string; username: string; name: string | null; jobs: JobInput[]; depth: number[] }): number[] {
    const run = new WorkflowRun(w.jobs);
    const rec: WorkflowRecord = {
      ...w, created_at: this.clock.now(), started_at: null, ended_at: null, cancelled: false,
      states: run.jobs, runs: w.jobs.map(freshRuns),
    };
    const e = { rec, run, after: branchAfter(rec.jobs) };
    this.entries.set(rec.id, e);
    this.emit([{ kind: 'workflow_created', at: rec.created_at, workflow: this.summary(e) }]);
    return this.mutate(e, () => run.start());
  }

  /** A launch's worker was asked for: the job's worker (and the count that names the next) are recorded first. */
  launching(id: string, i: number, workerId: string): void {
    const e = this.entry(id);
    this.mutate(e, () => {
      const r = e.rec.runs[i]!;
      r.launches++;
      Object.assign(r, { worker_id: workerId, request_id: null, allocation_id: null, exit_code: null, why: 'waiting for its worker to be asked for' });
    }, [i]);
  }

  /** Its worker waits for its grant (why: behind whom), or is granted and its process starting (allocation_id). */
  queued(id: string, i: number, p: { request_id: string | null; why: string | null; allocation_id?: string | null }): void {
    const e = this.entry(id);
    this.mutate(e, () => {
      if (e.run.jobs[i]!.status === 'READY') e.run.queued(i);
      Object.assign(e.rec.runs[i]!, p);
    }, [i]);
  }

  /** Its worker was granted and started (or is suspended by time-slicing: why says so). */
  running(id: string, i: number, p: { request_id: string | null; allocation_id: string | null; why: string | null }): void {
    const e = this.entry(id);
    this.mutate(e, () => {
      if (e.run.jobs[i]!.status !== 'RUNNING') e.run.running(i);
      Object.assign(e.rec.runs[i]!, p);
    }, [i]);
  }

  /** It succeeded: returns the jobs made READY. */
  succeeded(id: string, i: number, p: { exit_code: number | null; log_tail: string[]; result?: unknown }): number[] {
    const e = this.entry(id);
    return this.mutate(e, () => {
      this.ensureRunning(e, i);
      Object.assign(e.rec.runs[i]!, { ...p, why: null });
      return e.run.succeeded(i);
    }, [i]);
  }

  /** It failed: READY again while it has retries left (`retry`), else FAILED with its descendants SKIPPED. */
  failed(id: string, i: number, p: { exit_code: number | null; log_tail: string[]; why: string; result?: unknown }): { retry: boolean } {
    const e = this.entry(id);
    let retry = false;
    this.mutate(e, () => {
      this.ensureRunning(e, i);
      const runs = e.rec.runs[i]!;
      Object.assign(runs, p);
      const out = e.run.failed(i);
      retry = out.retry;
      if (retry) runs.why = `retrying (${e.run.jobs[i]!.attempts} of ${e.rec.jobs[i]!.retries + 1} runs so far): ${p.why}`;
      const name = e.rec.jobs[i]!.name;
      for (const s of out.skipped) e.rec.runs[s]!.why = `skipped: job ${i} (${name}) failed`;
    }, [i]);
    return { retry };
  }

  /** Its run was taken away (preempted): READY again, not counted. */
  interrupted(id: string, i: number, why: string): void {
    const e = this.entry(id);
    this.mutate(e, () => {
      e.run.interrupted(i);
      e.rec.runs[i]!.why = `${why}; it runs again when granted`;
    }, [i]);
  }

  /** Cancel: returns the jobs that were QUEUED or RUNNING (their workers are to be stopped). */
  cancel(id: string): number[] {
    const e = this.entry(id);
    if (ENDED_WORKFLOW.has(e.run.status)) throw new WorkflowError('invalid_state', `workflow ${id} has already ended (${e.run.status})`, { status: e.run.status });
    return this.mutate(e, () => {
      e.rec.cancelled = true;
      return e.run.cancel();
    });
  }

  /** Run the failed and skipped jobs again: returns the jobs made READY. */
  retry(id: string): number[] {
    const e = this.entry(id);
    const again = e.run.jobs.some((j) => j.status === 'FAILED' || j.status === 'SKIPPED');
    if (e.rec.cancelled || !again) throw new WorkflowError('invalid_state', `workflow ${id} is ${e.run.status}: only failed and skipped jobs are run again${e.rec.cancelled ? ', and a cancelled workflow stays cancelled' : ', and it has none'}`, { status: e.run.status });
    return this.mutate(e, () => e.run.retry());
  }

  // ------------------------------------------------------------------ internals

  private entry(id: string): Entry {
    const e = this.entries.get(id);
    if (!e) throw new WorkflowError('not_found', `no workflow ${id}`);
    return e;
  }

  /** A job whose run was not seen start (it ended while nobody watched): it ran, so it counts as a run. */
  private ensureRunning(e: Entry, i: number): void {
    const s = e.run.jobs[i]!.status;
    if (s === 'READY' || s === 'QUEUED') e.run.running(i);
  }

  /**
   * Apply `fn` and report what it changed: a job_state for each job whose state changed (and for `touched` ones),
   * with its times kept, then a workflow_state when the workflow's changed. Costs what changed, not the workflow's
   * size (the run tracks its changes and its tally).
   */
  private mutate<T>(e: Entry, fn: () => T, touched: readonly number[] = []): T {
    e.run.takeChanges();
    const wasStatus = e.run.status;
    const out = fn();
    const now = this.clock.now();
    const before = e.run.takeChanges();
    const changed = [...new Set([...before.keys(), ...touched])].sort((a, b) => a - b);
    for (const i of changed) {
      const status = e.run.jobs[i]!.status;
      const runs = e.rec.runs[i]!;
      if (!before.has(i) || before.get(i) === status) continue;
      if (status === 'READY') Object.assign(runs, { ready_at: now, started_at: null, ended_at: null });
      if (status === 'RUNNING') runs.started_at = now;
      if (ENDED_JOB.has(status)) runs.ended_at = now;
      // a manual job (or a run that ended while nobody watched) started when it ended, as far as is known
      if ((status === 'SUCCEEDED' || status === 'FAILED') && runs.started_at === null) runs.started_at = now;
      if (status === 'CANCELLED') runs.why = 'cancelled';
      if (status === 'PENDING') Object.assign(runs, { ready_at: null, started_at: null, ended_at: null, why: null });
    }
    const status = e.run.status;
    if (status !== wasStatus) {
      if (wasStatus === 'PENDING' || e.rec.started_at === null) e.rec.started_at = now;
      e.rec.ended_at = ENDED_WORKFLOW.has(status) ? now : null;
    }
    const summary = this.summary(e);
    const changes: WorkflowChange[] = changed.map((i) => ({ kind: 'job_state', at: now, workflow: summary, job: this.jobView(e, i), previous: before.get(i) ?? e.run.jobs[i]!.status }));
    if (status !== wasStatus) changes.push({ kind: 'workflow_state', at: now, workflow: summary, previous: wasStatus });
    this.emit(changes);
    return out;
  }

  private emit(changes: WorkflowChange[]): void {
    if (!changes.length) return;
    for (const l of this.listeners) l(changes);
  }

  private summary(e: Entry): WorkflowSummary {
    const { rec, run } = e;
    const counts: Partial<Record<JobStatus, number>> = {};
    for (const [status, n] of Object.entries(run.counts) as [JobStatus, number][]) if (n) counts[status] = n;
    return {
      id: rec.id, user_id: rec.user_id, username: rec.username, name: rec.name, status: run.status,
      created_at: iso(rec.created_at)!, started_at: iso(rec.started_at), ended_at: iso(rec.ended_at), job_count: rec.jobs.length, counts,
    };
  }

  private jobView(e: Entry, i: number): Job {
    const spec = e.rec.jobs[i]!;
    const state = e.run.jobs[i]!;
    const runs = e.rec.runs[i]!;
    return {
      index: i, name: spec.name, job_type: spec.job_type, branch_id: spec.branch_id, parent_indices: spec.parent_indices, branch_after: e.after[i] ?? null,
      status: state.status, manual: !spec.run, resources: jobResources(spec),
      run: spec.run ? {
        cmd: spec.run.cmd, ...(spec.run.container_image ? { container_image: spec.run.container_image } : {}),
        ...(spec.run.backend ? { backend: spec.run.backend } : {}), env_names: Object.keys(spec.run.env_vars ?? {}),
      } : null,
      timeoutMs: spec.timeoutMs ?? null, retries: spec.retries, attempts: state.attempts, depth: e.rec.depth[i] ?? 0,
      ready_at: iso(runs.ready_at), started_at: iso(runs.started_at), ended_at: iso(runs.ended_at),
      exit_code: runs.exit_code, log_tail: runs.log_tail, ...(runs.result !== undefined ? { result: runs.result } : {}), why: runs.why,
      request_id: runs.request_id, allocation_id: runs.allocation_id, worker_id: runs.worker_id,
    };
  }
}

function iso(ms: number | null): string | null {
  return ms === null ? null : new Date(ms).toISOString();
}
