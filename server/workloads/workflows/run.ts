/**
 * One workflow's states, pure: which jobs are ready, what a job's end does to the others and to the workflow.
 *
 *   job:      PENDING → READY → QUEUED (its request waits) → RUNNING → SUCCEEDED
 *                                                              └──► READY again while it has retries left
 *                                                              └──► FAILED: every descendant SKIPPED
 *                                                              └──► READY again, not counted, when interrupted
 *                                                                   (its run was preempted by the scheduler)
 *             any job not ended ──cancel──► CANCELLED
 *   workflow: PENDING → RUNNING → SUCCEEDED (every job) | FAILED (a job failed, nothing else runs) | CANCELLED
 *
 * A job is ready when every parent has succeeded and, since jobs of one branch keep their order, so has the job of
 * its branch listed before it (that job counts as one more parent). A manual job (no `run`) stays READY until its
 * result is posted. The caller (the executor) turns READY jobs into requests and reports what happens.
 */
import { JOB_STATUSES } from '../../../shared/names.ts';
import type { JobStatus, WorkflowStatus } from '../../../shared/workflows.ts';
import { withBranchOrder, type DagJob } from './dag.ts';

export type { JobStatus, WorkflowStatus };

const ENDED: ReadonlySet<JobStatus> = new Set<JobStatus>(['SUCCEEDED', 'FAILED', 'SKIPPED', 'CANCELLED']);

export interface RunJob extends DagJob {
  branch_id: number | string;
  retries: number;
}

export interface JobState {
  status: JobStatus;
  /** runs started so far */
  attempts: number;
}

export class WorkflowRun {
  readonly jobs: JobState[];
  /** how many jobs are in each state (the workflow's state and the summaries read these, not every job) */
  private readonly tally = Object.fromEntries(JOB_STATUSES.map((x) => [x, 0])) as Record<JobStatus, number>;
  /** jobs whose state changed since the last takeChanges, with the state each had before */
  private changed = new Map<number, JobStatus>();
  /** each job's parents, with the branch's previous job added */
  private readonly after: number[][];
  private readonly children: number[][];
  private cancelled = false;

  constructor(private readonly spec: readonly RunJob[], states?: readonly JobState[], opts: { cancelled?: boolean } = {}) {
    this.after = withBranchOrder(spec).map((j) => [...j.parent_indices]);
    this.children = spec.map(() => []);
    this.after.forEach((ps, i) => ps.forEach((p) => this.children[p]!.push(i)));
    this.jobs = states ? states.map((s) => ({ ...s })) : spec.map(() => ({ status: 'PENDING', attempts: 0 }));
    for (const j of this.jobs) this.tally[j.status]++;
    this.cancelled = opts.cancelled ?? false;
  }

  /** Jobs in each state. */
  get counts(): Readonly<Record<JobStatus, number>> {
    return this.tally;
  }

  /** The jobs whose state changed since the last call, each with the state it had before (and forget them). */
  takeChanges(): Map<number, JobStatus> {
    const out = this.changed;
    this.changed = new Map();
    return out;
  }

  get status(): WorkflowStatus {
    if (this.cancelled) return 'CANCELLED';
    const n = this.jobs.length;
    const c = this.tally;
    if (c.SUCCEEDED === n) return 'SUCCEEDED';
    const busy = c.READY + c.QUEUED + c.RUNNING > 0;
    if (!busy && c.FAILED > 0) return 'FAILED';
    if (c.PENDING === n) return 'PENDING';
    return 'RUNNING';
  }

  /** Start (or resume): every job whose parents have succeeded becomes READY. Returns the jobs made ready. */
  start(): number[] {
    return this.spec.map((_, i) => i).filter((i) => this.promote(i));
  }

  queued(i: number): void {
    this.move(i, 'QUEUED', ['READY']);
  }

  running(i: number): void {
    this.move(i, 'RUNNING', ['READY', 'QUEUED']);
    this.jobs[i]!.attempts++;
  }

  /** The job succeeded: returns the jobs that became ready. */
  succeeded(i: number): number[] {
    this.move(i, 'SUCCEEDED', ['READY', 'QUEUED', 'RUNNING']);
    return this.children[i]!.filter((c) => this.promote(c));
  }

  /**
   * The job failed: READY again while it has retries left (`retry`), else FAILED and every job after it SKIPPED
   * (returned).
   */
  failed(i: number): { retry: boolean; skipped: number[] } {
    const j = this.jobs[i]!;
    if (j.status === 'RUNNING' && j.attempts <= this.spec[i]!.retries) {
      this.set(i, 'READY');
      return { retry: true, skipped: [] };
    }
    this.move(i, 'FAILED', ['READY', 'QUEUED', 'RUNNING']);
    const skipped: number[] = [];
    const stack = [...this.children[i]!];
    while (stack.length) {
      const c = stack.pop()!;
      if (ENDED.has(this.jobs[c]!.status)) continue;
      this.set(c, 'SKIPPED');
      skipped.push(c);
      stack.push(...this.children[c]!);
    }
    return { retry: false, skipped: skipped.sort((a, b) => a - b) };
  }

  /** The run was taken away (preempted), not failed: READY again, and this run is not counted against its retries. */
  interrupted(i: number): void {
    const j = this.jobs[i]!;
    if (j.status === 'RUNNING') j.attempts = Math.max(0, j.attempts - 1);
    this.move(i, 'READY', ['QUEUED', 'RUNNING']);
  }

  /** Cancel: every job not ended is CANCELLED; returns those that were QUEUED or RUNNING (to withdraw or stop). */
  cancel(): number[] {
    this.cancelled = true;
    const stop: number[] = [];
    this.jobs.forEach((j, i) => {
      if (ENDED.has(j.status)) return;
      if (j.status === 'QUEUED' || j.status === 'RUNNING') stop.push(i);
      this.set(i, 'CANCELLED');
    });
    return stop;
  }

  /** Run the failed and skipped jobs again (what succeeded stays): returns the jobs made ready. */
  retry(): number[] {
    if (this.cancelled) return [];
    this.jobs.forEach((j, i) => {
      if (j.status === 'FAILED' || j.status === 'SKIPPED') {
        this.set(i, 'PENDING');
        j.attempts = 0;
      }
    });
    return this.start();
  }

  /** PENDING → READY when everything before it has succeeded. */
  private promote(i: number): boolean {
    const j = this.jobs[i]!;
    if (j.status !== 'PENDING' || this.cancelled) return false;
    if (!this.after[i]!.every((p) => this.jobs[p]!.status === 'SUCCEEDED')) return false;
    this.set(i, 'READY');
    return true;
  }

  private move(i: number, to: JobStatus, from: readonly JobStatus[]): void {
    const j = this.jobs[i];
    if (!j) throw new RangeError(`no job ${i}`);
    if (!from.includes(j.status)) throw new Error(`job ${i} is ${j.status}; it cannot become ${to}`);
    this.set(i, to);
  }

  /** Every change of a job's state goes through here: the tally and the changes follow. */
  private set(i: number, to: JobStatus): void {
    const j = this.jobs[i]!;
    if (j.status === to) return;
    if (!this.changed.has(i)) this.changed.set(i, j.status);
    this.tally[j.status]--;
    this.tally[to]++;
    j.status = to;
  }
}
