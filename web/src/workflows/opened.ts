/**
 * The workflow open in the Workflows view: its summary and its jobs. Read over REST once the push is live (the
 * same backfill as the list: changes that arrive while the read is out are applied again on top of it) and again
 * after a replay gap; kept current by the pushed changes of this workflow (`job_state` replaces its job). `shape`
 * (each job's parents, branch and depth) keeps its identity while the structure stays the same, so the DAG is laid out
 * again only when the jobs themselves change, never for a change of state. Cancel and retry answer the workflow;
 * the answer is taken the same way (what was pushed while it was out applied on top). Framework-free.
 */
import type { Job, Workflow, WorkflowChange, WorkflowSummary } from '../../../shared/workflows.ts';
import { ApiError, errorMessage } from '../lib/api.ts';
import { Backfill } from '../lib/backfill.ts';
import type { Timers } from '../lib/timers.ts';
import type { LiveSource } from '../live/source.ts';
import type { WorkflowsApi } from './api.ts';

/**
 * What the DAG's layout depends on: a job's parents, the job of its branch it runs after (when not a parent) and its
 * depth (longest path from a root).
 */
export interface JobShape {
  readonly parents: readonly number[];
  readonly after: number | null;
  readonly depth: number;
}

export type WorkflowAction = 'cancel' | 'retry';

export interface OpenedView {
  readonly id: string;
  /** the workflow and its jobs have been read at least once */
  readonly ready: boolean;
  readonly loading: boolean;
  /** the last read failed with this */
  readonly error: string | null;
  /** the server has no such workflow (404) */
  readonly missing: boolean;
  /** from the read or the newest change; from the list until then */
  readonly summary: WorkflowSummary | null;
  /** by index; a job's record is replaced when it changes (the others keep their identity) */
  readonly jobs: readonly Job[];
  /** by index; the same array until the structure changes */
  readonly shape: readonly JobShape[];
  /** a cancel or retry under way */
  readonly acting: WorkflowAction | null;
  /** the last cancel or retry failed with this */
  readonly actionError: { action: WorkflowAction; message: string } | null;
}

export interface OpenedDeps extends Timers {
  api: WorkflowsApi;
}

export class OpenedWorkflow {
  /** views showing it */
  watchers = 0;
  private summary: WorkflowSummary | null;
  private jobs: Job[] = [];
  private jobsView: readonly Job[] | null = null;
  private shape: readonly JobShape[] = [];
  private missing = false;
  private acting: WorkflowAction | null = null;
  private actionError: OpenedView['actionError'] = null;
  /** changes pushed while a cancel or retry is out, applied again on top of its answer */
  private actionBuffer: WorkflowChange[] | null = null;
  private closed = false;
  private readonly live: Backfill<Workflow | null, WorkflowChange>;
  private current: OpenedView | null = null;

  constructor(
    readonly id: string,
    source: LiveSource,
    private readonly deps: OpenedDeps,
    summary: WorkflowSummary | null,
    private readonly onChange: () => void,
    retryMs: number,
  ) {
    this.summary = summary;
    this.live = new Backfill(source, deps, {
      // no such workflow is an answer, not a failure to retry
      read: () => this.deps.api.get(id).catch((err: unknown) => {
        if (err instanceof ApiError && err.status === 404) return null;
        throw err;
      }),
      take: (answer) => this.take(answer),
      replay: (c) => this.apply(c),
      changed: () => this.touch(),
    }, { retryMs, onlyWatched: false });
  }

  start(): void {
    if (!this.closed) this.live.start();
  }

  stop(): void {
    this.live.stop();
  }

  /** Nobody shows it any more: no more reads, and an answer under way is dropped. */
  close(): void {
    this.closed = true;
    this.live.stop();
  }

  /** Read it again (after an error, or when asked). */
  refresh(): void {
    this.live.refresh();
  }

  /** Its summary now (the newest the page knows). */
  get latest(): WorkflowSummary | null {
    return this.summary;
  }

  /** Pushed changes (of every workflow: those of this one are applied). */
  receive(changes: readonly WorkflowChange[]): void {
    const mine = changes.filter((c) => c.workflow?.id === this.id);
    if (mine.length === 0) return;
    for (const c of mine) this.apply(c);
    this.live.note(mine);
    this.actionBuffer?.push(...mine);
    this.touch();
  }

  /** Cancel or retry it; resolves true once the server has answered and the answer is taken. */
  async act(kind: WorkflowAction): Promise<boolean> {
    if (this.acting !== null || this.closed) return false;
    this.acting = kind;
    this.actionError = null;
    this.actionBuffer = [];
    this.touch();
    try {
      const answer = await (kind === 'cancel' ? this.deps.api.cancel(this.id) : this.deps.api.retry(this.id));
      if (this.closed) return false;
      const buffered = this.actionBuffer ?? [];
      this.actionBuffer = null;
      this.acting = null;
      try {
        this.take(answer);
      } catch {
        // an answer this page does not understand: the pushed changes still tell what happened
      }
      for (const c of buffered) this.apply(c);
      this.touch();
      return true;
    } catch (err) {
      this.acting = null;
      this.actionBuffer = null;
      this.actionError = { action: kind, message: errorMessage(err) };
      this.touch();
      // no such workflow (any more): what the page holds is out of date
      if (err instanceof ApiError && err.status === 404) this.refresh();
      return false;
    }
  }

  view(): OpenedView {
    return (this.current ??= {
      id: this.id,
      ready: this.live.ready,
      loading: this.live.loading,
      error: this.live.error,
      missing: this.missing,
      summary: this.summary,
      jobs: (this.jobsView ??= this.jobs.slice()),
      shape: this.shape,
      acting: this.acting,
      actionError: this.actionError,
    });
  }

  private touch(): void {
    this.current = null;
    this.onChange();
  }

  /** A read's (or an action's) answer in place of what the page held; throws when it is not understood. */
  private take(answer: Workflow | null): void {
    if (answer === null) {
      this.missing = true;
      this.jobs = [];
      this.jobsView = null;
      this.shape = [];
      return;
    }
    if (!Array.isArray(answer?.jobs)) throw new Error('GET /api/workflows/{id} answered something this page does not understand');
    const jobs = [...answer.jobs].sort((a, b) => a.index - b.index);
    if (!jobs.every((j, k) => j.index === k)) throw new Error(`the jobs of workflow ${this.id} are not numbered 0 to ${jobs.length - 1}`);
    const { jobs: _jobs, ...summary } = answer;
    this.missing = false;
    this.summary = summary;
    this.jobs = jobs;
    this.jobsView = null;
    const shape = jobs.map(shapeOf);
    if (!sameShape(this.shape, shape)) this.shape = shape;
  }

  private apply(c: WorkflowChange): void {
    if (c.workflow?.id !== this.id) return;
    this.summary = c.workflow;
    if (c.kind === 'job_state' && c.job) this.putJob(c.job);
  }

  private putJob(job: Job): void {
    const before = this.jobs[job.index];
    // jobs not read yet: the read has it, and this change is applied again on top
    if (!before) return;
    this.jobs[job.index] = job;
    this.jobsView = null;
    const shape = shapeOf(job);
    if (!sameJobShape(this.shape[job.index], shape)) {
      const next = this.shape.slice();
      next[job.index] = shape;
      this.shape = next;
    }
  }
}

function shapeOf(j: Job): JobShape {
  return { parents: j.parent_indices, after: j.branch_after, depth: j.depth };
}

function sameJobShape(a: JobShape | undefined, b: JobShape): boolean {
  return a !== undefined && a.depth === b.depth && a.after === b.after && a.parents.length === b.parents.length && a.parents.every((p, k) => p === b.parents[k]);
}

function sameShape(a: readonly JobShape[], b: readonly JobShape[]): boolean {
  return a.length === b.length && a.every((s, k) => sameJobShape(s, b[k]!));
}
