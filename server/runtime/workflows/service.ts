/**
 * Workflows in the running server: users, and each workflow's jobs run as workers. A READY job becomes a worker
 * group of one replica owned by the workflow's user (so fair-share shares between users), asked for at once — ready
 * jobs of different branches wait and run side by side; what its worker does moves the job: queued → QUEUED,
 * started → RUNNING, exit 0 → SUCCEEDED, failed / timed out → a retry or FAILED, preempted → READY again. Manual
 * jobs (no `run`) wait READY for their posted result. Every change of the book is stored and pushed
 * (`workflow_update`) in one group commit; after a restart, each unfinished job finds its worker again (adopted by
 * the worker service) and nothing that had succeeded runs again.
 */
import { randomUUID } from 'node:crypto';
import type { Worker } from '../../../shared/workers.ts';
import type { JobCompleteBody, User, Workflow, WorkflowChange, WorkflowCreateBody, WorkflowCreated, WorkflowsResponse, WorkflowStatus } from '../../../shared/workflows.ts';
import type { Clock, Timer } from '../../clock.ts';
import { ArbiterError } from '../../errors.ts';
import type { Logger } from '../../log.ts';
import type { EventHub } from '../../push/hub.ts';
import type { SchedulerEngine } from '../../scheduler/engine.ts';
import type { WorkflowStore } from '../../store/workflow-store.ts';
import { ENDED as WORKER_ENDED } from '../../workloads/workers/book.ts';
import { ENDED_JOB, WorkflowBook, WorkflowError } from '../../workloads/workflows/book.ts';
import { dagShape } from '../../workloads/workflows/dag.ts';
import { jobBackend, jobGroupName, jobWorkerBody, jobWorkerId } from '../../workloads/workflows/jobs.ts';
import { checkWorkflow } from '../../workloads/workflows/validate.ts';
import { GroupCommit, type Transact } from '../group-commit.ts';
import { errorText } from '../json-http.ts';
import type { WorkerService } from '../workers/service.ts';

export interface WorkflowServiceOptions {
  book: WorkflowBook;
  workers: WorkerService;
  engine: SchedulerEngine;
  hub: EventHub;
  clock: Clock;
  log: Logger;
  store?: WorkflowStore;
  transact?: Transact;
}

/** jobs asked for in one turn of the event loop (each a process start soon after) */
const LAUNCH_BATCH = 8;

/** `wf-<workflow uuid>-<index>-<launch>-0`: a job's worker (jobs.ts names them) */
const JOB_WORKER = /^wf-([0-9a-f-]{36})-(\d+)-(\d+)-0$/;

export class WorkflowService {
  readonly book: WorkflowBook;
  private readonly users = new Map<string, User>();
  private readonly usernames = new Set<string>();
  private readonly commits: GroupCommit<WorkflowChange>;
  private readonly offs: (() => void)[] = [];
  private readonly timers = new Map<string, Timer>();
  /** workers stopped because their job ran past its timeoutMs */
  private readonly timedOut = new Set<string>();
  /** workers being stopped by this service (their stop's own changes must not stop them again) */
  private readonly stopping = new Set<string>();
  private pending: Worker[] = [];
  private scheduled = false;

  constructor(private readonly opts: WorkflowServiceOptions) {
    this.book = opts.book;
    this.commits = new GroupCommit<WorkflowChange>({
      log: opts.log, what: 'workflow changes', ...(opts.transact ? { transact: opts.transact } : {}),
      write: (batch) => {
        opts.store?.apply(batch, (id) => this.book.record(id));
        for (const c of batch) opts.hub.publish('workflow_update', c);
      },
    });
  }

  /** Restore, follow the workers (start after the worker service has adopted its workers), resume what was running. */
  start(): void {
    const { store, workers } = this.opts;
    for (const u of store?.users() ?? []) this.addUser(u);
    if (store) this.book.restore(store.load());
    this.offs.push(this.book.onChange(this.commits.add));
    this.offs.push(workers.book.onChange((changes) => {
      this.pending.push(...changes.map((c) => c.worker));
      if (!this.scheduled) {
        this.scheduled = true;
        queueMicrotask(() => this.drain());
      }
    }));
    for (const rec of this.book.unfinished()) rec.jobs.forEach((_, i) => this.resume(rec.id, i));
  }

  stop(): void {
    for (const off of this.offs.splice(0)) off();
    for (const t of this.timers.values()) t.cancel();
    this.timers.clear();
    this.commits.flush();
  }

  committed(): Promise<void> {
    return Promise.all([this.commits.committed(), this.opts.workers.committed()]).then(() => undefined);
  }

  // ------------------------------------------------------------------ users

  createUser(username: string): User {
    const taken = () => new ArbiterError(409, 'username_taken', `the username ${JSON.stringify(username)} is taken`, { field: 'username' });
    if (this.usernames.has(username)) throw taken();
    const user: User = { id: randomUUID(), username, created_at: new Date(this.opts.clock.now()).toISOString() };
    if (this.opts.store && !this.opts.store.addUser(user)) throw taken();
    this.addUser(user);
    return user;
  }

  user(id: string): User {
    const u = this.users.get(id);
    if (!u) throw new ArbiterError(404, 'not_found', `no user ${id}`);
    return u;
  }

  // ------------------------------------------------------------------ workflows

  /** Validate, store and start a workflow: its first jobs are asked for at once. */
  async submit(body: WorkflowCreateBody): Promise<WorkflowCreated> {
    const { workers, engine } = this.opts;
    checkWorkflow(body, {
      userExists: (id) => this.users.has(id),
      backendAvailable: (b) => workers.hasBackend(b),
      defaultBackend: workers.defaultBackend,
      neverFits: (a) => engine.neverFits({ cpu: a.cpu, memoryMiB: a.memoryMiB, gpus: a.gpus, ...(a.gpuMemoryMiB ? { gpuMemMiB: a.gpuMemoryMiB } : {}) }, undefined, a.gpuModels),
    });
    const id = randomUUID();
    const user = this.users.get(body.user_id)!;
    const ready = this.book.create({ id, user_id: user.id, username: user.username, name: body.name ?? null, jobs: body.jobs, depth: dagShape(body.jobs).depth });
    // stored first, answered, then its first jobs asked for: the 201 does not wait for their processes to start
    await this.commits.committed();
    setImmediate(() => this.launchAll(id, ready));
    return { workflow_id: id, job_count: body.jobs.length };
  }

  get(id: string): Workflow {
    return this.book.view(id);
  }

  list(q: { user_id?: string | undefined; status?: WorkflowStatus | undefined; limit?: number }): WorkflowsResponse {
    return { workflows: this.book.list(q) };
  }

  /** Cancel: every job not ended is CANCELLED; running workers stopped, queued requests withdrawn. */
  async cancel(id: string): Promise<Workflow> {
    const rec = this.book.record(id);
    this.book.cancel(id);
    // every job's live worker, also one asked for a moment ago whose job was still READY
    const live = rec.runs.map((r) => r.worker_id).filter((w) => w !== null && !WORKER_ENDED.has(this.opts.workers.book.get(w)?.worker.state ?? 'stopped'));
    await Promise.all(live.map((w) => this.stopWorkerOf(w)));
    await this.committed();
    return this.book.view(id);
  }

  /** Run the failed and skipped jobs again. */
  async retry(id: string): Promise<Workflow> {
    for (const i of this.book.retry(id)) void this.launch(id, i);
    await this.committed();
    return this.book.view(id);
  }

  /** A manual job's result. */
  async complete(id: string, index: number, body: JobCompleteBody): Promise<Workflow> {
    const job = this.book.job(id, index);
    if (!job.manual) throw new WorkflowError('invalid_state', `job ${index} (${job.name}) runs as a worker: its result is how its worker ends`, { index, status: job.status });
    if (job.status !== 'READY') throw new WorkflowError('invalid_state', `job ${index} (${job.name}) is ${job.status}, not READY: ${job.status === 'PENDING' ? 'its parents have not all succeeded' : 'it has ended'}`, { index, status: job.status });
    const result = body.result === undefined ? {} : { result: body.result };
    if (body.status === 'SUCCEEDED') this.launchAll(id, this.book.succeeded(id, index, { exit_code: null, log_tail: [], ...result }));
    else this.book.failed(id, index, { exit_code: null, log_tail: [], why: 'reported FAILED', ...result });
    await this.committed();
    return this.book.view(id);
  }

  // ------------------------------------------------------------------ running jobs

  /**
   * Ask for these jobs' workers a few at a time, yielding to I/O between batches: a process start holds the event
   * loop (spawn returns after exec), and 500 roots started in one go would stall every connection for seconds.
   */
  private launchAll(id: string, jobs: readonly number[]): void {
    const first = jobs.slice(0, LAUNCH_BATCH);
    for (const i of first) void this.launch(id, i);
    if (jobs.length <= LAUNCH_BATCH) return;
    setImmediate(() => this.launchAll(id, jobs.slice(LAUNCH_BATCH)));
  }

  /** Ask for the worker of a READY job's next launch (a manual job waits for its result instead). */
  private async launch(id: string, i: number): Promise<void> {
    const rec = this.book.record(id);
    const job = rec.jobs[i]!;
    if (!job.run || rec.states[i]!.status !== 'READY') return;
    const launch = rec.runs[i]!.launches + 1;
    this.book.launching(id, i, jobWorkerId(id, i, launch));
    try {
      await this.opts.workers.create(jobWorkerBody(id, i, launch, job, rec.username, jobBackend(job, this.opts.workers.defaultBackend)), rec.username);
    } catch (err) {
      this.opts.log.warn({ err, workflow: id, job: i }, 'a job’s worker could not be asked for');
      if (rec.states[i]!.status === 'READY') this.whenFailed(id, i, { exit_code: null, log_tail: [], why: `its worker could not be asked for: ${errorText(err)}` });
    }
  }

  private drain(): void {
    this.scheduled = false;
    const batch = this.pending.splice(0);
    for (const w of batch) this.follow(w);
  }

  /** What a job's worker did moves the job. */
  private follow(w: Worker): void {
    const m = JOB_WORKER.exec(w.id);
    if (!m || !this.book.has(m[1]!)) return;
    const id = m[1]!;
    const i = Number(m[2]);
    const rec = this.book.record(id);
    const runs = rec.runs[i];
    if (!runs || runs.worker_id !== w.id) return;
    const status = rec.states[i]!.status;
    if (ENDED_JOB.has(status)) {
      // cancelled (or ended otherwise) while its worker was being asked for: nothing of it keeps running
      if (!WORKER_ENDED.has(w.state)) void this.stopWorkerOf(w.id);
      return;
    }
    switch (w.state) {
      case 'queued':
        if (status === 'READY' || runs.why !== w.why || runs.request_id !== w.request_id) this.book.queued(id, i, { request_id: w.request_id, why: w.why });
        return;
      case 'starting':
      case 'running':
      case 'suspended': {
        if (w.started_at === null) {
          // granted, its process not started yet: still QUEUED (RUNNING is a running process; timeoutMs counts from it)
          const why = 'granted: its process is starting';
          if (status === 'READY' || runs.why !== why || runs.allocation_id !== w.allocation_id) this.book.queued(id, i, { request_id: w.request_id, why, allocation_id: w.allocation_id });
          return;
        }
        const why = w.state === 'suspended' ? w.why : null;
        if (status !== 'RUNNING' || runs.allocation_id !== w.allocation_id || runs.why !== why) this.book.running(id, i, { request_id: w.request_id, allocation_id: w.allocation_id, why });
        this.armTimeout(id, i, w.id);
        return;
      }
      case 'exited':
        this.disarm(w.id);
        this.launchAll(id, this.book.succeeded(id, i, { exit_code: w.exit_code, log_tail: w.log_tail }));
        return;
      case 'failed':
      case 'stopped': {
        this.disarm(w.id);
        const timeout = rec.jobs[i]!.timeoutMs;
        const why = this.timedOut.delete(w.id) ? `timed out: still running after ${timeout} ms` : (w.why ?? w.state);
        this.whenFailed(id, i, { exit_code: w.exit_code, log_tail: w.log_tail, why });
        return;
      }
      case 'preempted':
        this.disarm(w.id);
        this.book.interrupted(id, i, w.why ?? 'preempted');
        void this.launch(id, i);
        return;
      default:
    }
  }

  private whenFailed(id: string, i: number, p: { exit_code: number | null; log_tail: string[]; why: string }): void {
    if (this.book.failed(id, i, p).retry) void this.launch(id, i);
  }

  /** After a restart: the job finds its worker (adopted, or of a launch not recorded yet), or is asked for again. */
  private resume(id: string, i: number): void {
    const rec = this.book.record(id);
    const status = rec.states[i]!.status;
    if (!rec.jobs[i]!.run || !(status === 'READY' || status === 'QUEUED' || status === 'RUNNING')) return;
    const workers = this.opts.workers.book;
    const runs = rec.runs[i]!;
    const unrecorded = workers.get(jobWorkerId(id, i, runs.launches + 1));
    if (unrecorded) {
      this.book.launching(id, i, unrecorded.worker.id);
      this.follow(unrecorded.worker);
      return;
    }
    const current = runs.worker_id ? workers.get(runs.worker_id) : undefined;
    if (current && (status !== 'READY' || !WORKER_ENDED.has(current.worker.state))) {
      this.follow(current.worker);
      return;
    }
    if (status !== 'READY') this.book.interrupted(id, i, 'its worker was not found after a restart');
    void this.launch(id, i);
  }

  /** A running job with a timeoutMs: its worker is stopped when the time is up (from when it started). */
  private armTimeout(id: string, i: number, workerId: string): void {
    const timeout = this.book.record(id).jobs[i]!.timeoutMs;
    if (timeout === undefined || this.timers.has(workerId)) return;
    const started = Date.parse(this.book.job(id, i).started_at ?? '') || this.opts.clock.now();
    const left = Math.max(0, started + timeout - this.opts.clock.now());
    this.timers.set(workerId, this.opts.clock.setTimeout(() => {
      this.timers.delete(workerId);
      const runs = this.book.record(id).runs[i]!;
      if (runs.worker_id !== workerId || this.book.record(id).states[i]!.status !== 'RUNNING') return;
      this.timedOut.add(workerId);
      void this.stopWorkerOf(workerId);
    }, left));
  }

  private disarm(workerId: string): void {
    this.timers.get(workerId)?.cancel();
    this.timers.delete(workerId);
  }

  /** Stop a job's worker (its group), waiting until it has ended; a worker already gone is fine. */
  private async stopWorkerOf(workerId: string | null): Promise<void> {
    const m = workerId ? JOB_WORKER.exec(workerId) : null;
    if (!m || this.stopping.has(workerId!)) return;
    this.stopping.add(workerId!);
    try {
      await this.opts.workers.delete(jobGroupName(m[1]!, Number(m[2]), Number(m[3])));
    } catch (err) {
      if (!(err instanceof ArbiterError && err.status === 404)) this.opts.log.warn({ err, worker: workerId }, 'could not stop a job’s worker');
    } finally {
      this.stopping.delete(workerId!);
    }
  }

  private addUser(u: User): void {
    this.users.set(u.id, u);
    this.usernames.add(u.username);
  }
}
