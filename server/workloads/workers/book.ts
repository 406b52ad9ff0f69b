/**
 * The worker book: every worker Arbiter runs or has run, by group, and the one place their states change. Pure: no
 * I/O, time injected. The worker service (server/runtime/workers/service.ts) tells it what happened — a grant, a
 * start, an answer on the port, an exit, a suspension — and acts on what it says; every change is a `WorkerChange`
 * record, stored and pushed (`worker_update`) by the service after the fact, like the scheduler's and the
 * dispatcher's.
 *
 *   queued ──grant──► starting ──/health answers──► running ◄──resume/suspend──► suspended
 *      │                  │                            │
 *      └── delete ──► stopped        exit ──► exited (code 0) · failed (code ≠ 0, signal, could not start)
 *                                    after a stop Arbiter asked for ──► stopped · preempted
 */
import { ArbiterError } from '../../../shared/error.ts';
import type {
  ContainerSpec, Worker, WorkerBackend, WorkerChange, WorkerRecord, WorkerRef, WorkerState, WorkersCreateBody,
} from '../../../shared/workers.ts';
import type { Clock } from '../../clock.ts';

export type WorkerErrorCode = 'name_taken' | 'not_found' | 'invalid_state';
const STATUS: Record<WorkerErrorCode, number> = { name_taken: 409, not_found: 404, invalid_state: 409 };

export class WorkerError extends ArbiterError {
  declare readonly code: WorkerErrorCode;
  constructor(code: WorkerErrorCode, message: string, details?: unknown) {
    super(STATUS[code], code, message, details);
  }
}

/** States a worker never leaves. */
export const ENDED: ReadonlySet<WorkerState> = new Set<WorkerState>(['exited', 'failed', 'stopped', 'preempted']);
/** States in which a worker holds (or is about to hold) an allocation. */
export const LIVE: ReadonlySet<WorkerState> = new Set<WorkerState>(['starting', 'running', 'suspended']);

export type WorkerListener = (changes: readonly WorkerChange[]) => void;

/** `<group>-<replica>` */
export function workerId(group: string, replica: number): string {
  return `${group}-${replica}`;
}

/** The lines a worker's log ends with, kept in its record (and the `why` of a failure). */
export const LOG_TAIL_LINES = 20;

export class WorkerBook {
  private readonly records = new Map<string, WorkerRecord>();
  private readonly listeners = new Set<WorkerListener>();

  constructor(private readonly clock: Clock) {}

  onChange(listener: WorkerListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Resolves at the next change (after its listeners have run), or after `maxMs`. */
  nextChange(maxMs: number): Promise<void> {
    return new Promise<void>((resolve) => {
      const timer = this.clock.setTimeout(done, Math.max(1, maxMs));
      const off = this.onChange(() => done());
      function done(): void {
        timer.cancel();
        off();
        resolve();
      }
    });
  }

  // ------------------------------------------------------------------ reading

  get(id: string): WorkerRecord | undefined {
    return this.records.get(id);
  }

  /** A worker by id, or not_found. */
  must(id: string): WorkerRecord {
    const r = this.records.get(id);
    if (!r) throw new WorkerError('not_found', `no worker ${id}`);
    return r;
  }

  all(): WorkerRecord[] {
    return [...this.records.values()];
  }

  /** A group's workers in replica order (empty when there is no such group). */
  group(name: string): WorkerRecord[] {
    return this.all().filter((r) => r.worker.name === name).sort((a, b) => a.worker.replica - b.worker.replica);
  }

  /** Names of the groups with a worker that has not ended. */
  liveGroups(): string[] {
    return [...new Set(this.all().filter((r) => !ENDED.has(r.worker.state)).map((r) => r.worker.name))];
  }

  /** The worker whose scheduler request this is. */
  byRequest(requestId: string): WorkerRecord | undefined {
    for (const r of this.records.values()) if (r.worker.request_id === requestId) return r;
    return undefined;
  }

  byAllocation(allocationId: string): WorkerRecord | undefined {
    for (const r of this.records.values()) if (r.worker.allocation_id === allocationId) return r;
    return undefined;
  }

  // ------------------------------------------------------------------ changes

  /**
   * A new group: one queued worker per replica (the spec of its own or the one for all). A name taken by a group
   * with a worker still alive is name_taken; the ended workers of an earlier group of that name are forgotten.
   */
  create(body: WorkersCreateBody, defaults: { backend: WorkerBackend; owner: string }): WorkerRecord[] {
    const live = this.group(body.name).filter((r) => !ENDED.has(r.worker.state));
    if (live.length) throw new WorkerError('name_taken', `a worker group named ${JSON.stringify(body.name)} is still running (${live.length} worker(s)); delete it first`, { name: body.name });
    const now = this.clock.now();
    const made: WorkerRecord[] = [];
    const changes: WorkerChange[] = [];
    for (const old of this.group(body.name)) {
      this.records.delete(old.worker.id);
      changes.push({ kind: 'worker_removed', at: now, worker: old.worker });
    }
    for (let replica = 0; replica < body.replicas; replica++) {
      const spec: ContainerSpec = body.specs.length === 1 ? body.specs[0]! : body.specs[replica]!;
      const worker: Worker = {
        id: workerId(body.name, replica), name: body.name, replica, state: 'queued', backend: body.backend ?? defaults.backend,
        owner: body.owner ?? defaults.owner, node: null, host: '127.0.0.1', port: spec.port ?? null, gpus: [], allocation_id: null, request_id: null,
        exit_code: null, started_at: null, ended_at: null, log_tail: [], engine: null, why: 'waiting for its grant',
      };
      const record: WorkerRecord = {
        worker, spec, ref: null, stopping: null, answered: false,
        ask: {
          owner: worker.owner, ...(body.group !== undefined ? { group: body.group } : {}), priority: body.priority ?? 0, preemptible: body.preemptible ?? false,
          ...(body.node !== undefined ? { node: body.node } : {}),
        },
      };
      this.records.set(worker.id, record);
      made.push(record);
      changes.push({ kind: 'worker_created', at: now, worker });
    }
    this.emit(changes);
    return made;
  }

  /** Its scheduler request was submitted. */
  requested(id: string, requestId: string): void {
    this.update(id, { request_id: requestId });
  }

  /** Its request was granted: it is starting, on this node and these GPUs. */
  granted(id: string, allocation: { id: string; gpuIndices: number[]; node?: string }): void {
    this.transition(id, 'starting', { allocation_id: allocation.id, node: allocation.node ?? null, gpus: [...allocation.gpuIndices], why: 'starting' }, ['queued']);
  }

  /** The backend started it (it may not answer yet). */
  started(id: string, at: { host: string; port: number; startedAt: number; ref: WorkerRef }): void {
    const r = this.must(id);
    r.ref = at.ref;
    this.update(id, { host: at.host, port: at.port, started_at: at.startedAt, why: 'starting: waiting for its port to answer GET /health' });
  }

  /** Its port answered `GET /health`. */
  healthy(id: string): void {
    const r = this.must(id);
    if (r.worker.state !== 'starting') return;
    r.answered = true;
    this.transition(id, 'running', { why: null }, ['starting']);
  }

  suspended(id: string): void {
    this.transition(id, 'suspended', { why: 'suspended by time-slicing (its GPU turn is over; it resumes at its next turn)' }, ['running', 'starting']);
  }

  /** Its turn again: running — or starting, when it was suspended before its port ever answered. */
  resumed(id: string): void {
    const r = this.must(id);
    if (r.answered) this.transition(id, 'running', { why: null }, ['suspended']);
    else this.transition(id, 'starting', { why: 'starting: waiting for its port to answer GET /health' }, ['suspended']);
  }

  /** Why a queued worker waits changed (its request's conflict): the new words, pushed. */
  waiting(id: string, why: string): void {
    const r = this.must(id);
    if (r.worker.state !== 'queued' || r.worker.why === why) return;
    this.update(id, { why });
  }

  /** Arbiter asked it to stop (delete, preemption, an ended lease): once it exits, it is `as`. */
  stopping(id: string, as: 'stopped' | 'preempted', why: string): void {
    const r = this.must(id);
    if (ENDED.has(r.worker.state)) return;
    r.stopping = as;
    this.update(id, { why });
  }

  /** It ended before it ever ran (deleted while queued, or it could not start). */
  ended(id: string, as: 'stopped' | 'failed', why: string, logTail: string[] = []): void {
    this.transition(id, as, { why, ...(logTail.length ? { log_tail: logTail.slice(-LOG_TAIL_LINES) } : {}) }, ['queued', 'starting', 'running', 'suspended']);
  }

  /** Its process / container exited. */
  exited(id: string, exit: { code: number | null; signal: string | null }, logTail: string[]): void {
    const r = this.must(id);
    if (ENDED.has(r.worker.state)) return;
    const how = exit.signal ? `killed by ${exit.signal}` : exit.code === null ? 'ended (its exit status was not kept)' : `exited with code ${exit.code}`;
    const state: WorkerState = r.stopping ?? (exit.code === 0 && !exit.signal ? 'exited' : 'failed');
    const lastLines = logTail.slice(-LOG_TAIL_LINES);
    // stopped or preempted by Arbiter: the reason it was asked to stop; failed: how, and what it said last
    const why = r.stopping ? r.worker.why : state === 'exited' ? null : `${how}${lastLines.length ? `; last lines: ${lastLines.slice(-5).join(' | ')}` : ''}`;
    this.transition(id, state, { exit_code: exit.code ?? (exit.signal ? null : r.worker.exit_code), log_tail: lastLines, why }, ['starting', 'running', 'suspended']);
  }

  /** An engine was created in it. */
  engineCreated(id: string, engine: string): void {
    const r = this.must(id);
    r.worker = { ...r.worker, engine };
    this.emit([{ kind: 'worker_engine', at: this.clock.now(), worker: r.worker }]);
  }

  /** The newest lines of its output (kept for the record; not pushed on their own). */
  logTail(id: string, lines: string[]): void {
    const r = this.records.get(id);
    if (r) r.worker = { ...r.worker, log_tail: lines.slice(-LOG_TAIL_LINES) };
  }

  /** Put back what the store kept (at start). */
  restore(records: readonly WorkerRecord[]): void {
    for (const r of records) this.records.set(r.worker.id, { ...r, worker: { ...r.worker } });
  }

  /** Forget the workers that ended before `before` (ms): worker_removed for each; returns their ids. */
  forgetEnded(before: number): string[] {
    const gone = this.all().filter((r) => ENDED.has(r.worker.state) && (r.worker.ended_at ?? 0) < before);
    for (const r of gone) this.records.delete(r.worker.id);
    const now = this.clock.now();
    this.emit(gone.map((r) => ({ kind: 'worker_removed', at: now, worker: r.worker })));
    return gone.map((r) => r.worker.id);
  }

  // ------------------------------------------------------------------ internals

  private transition(id: string, to: WorkerState, fields: Partial<Worker>, from: readonly WorkerState[]): void {
    const r = this.must(id);
    const previous = r.worker.state;
    if (!from.includes(previous)) {
      throw new WorkerError('invalid_state', `worker ${id} is ${previous}; it cannot become ${to}`, { id, state: previous });
    }
    r.worker = { ...r.worker, ...fields, state: to };
    if (ENDED.has(to)) {
      r.stopping = null;
      r.worker.ended_at = this.clock.now();
    }
    this.emit([{ kind: 'worker_state', at: this.clock.now(), worker: r.worker, previous }]);
  }

  private update(id: string, fields: Partial<Worker>): void {
    const r = this.must(id);
    r.worker = { ...r.worker, ...fields };
    this.emit([{ kind: 'worker_state', at: this.clock.now(), worker: r.worker, previous: r.worker.state }]);
  }

  private emit(changes: readonly WorkerChange[]): void {
    if (!changes.length) return;
    for (const l of this.listeners) l(changes);
  }
}
