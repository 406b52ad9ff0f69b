/**
 * Workers in the page: every group with its replicas, their states, GPUs, where they listen and why those not
 * running are not. Pushed `worker_update` events keep it current from the start; REST fills it once the push is
 * live and the Workers view is open (subscribe first, then read, then apply on top what arrived meanwhile), and
 * again after a replay gap. Why a queued replica waits ("queued behind ana (request …)") comes from its request's
 * open conflict, which the server adds when it lists workers and which the push does not carry: the list is read
 * again after worker and conflict events while a replica is queued, at most once per `whyMinIntervalMs`, one read at
 * a time. Deleting a group goes through the store, so its progress and error outlive the component that asked.
 * Framework-free (React reads it through useSyncExternalStore), time injected.
 */
import type { ConflictChange } from '../../../shared/scheduler.ts';
import type { Worker, WorkerBackend, WorkerChange, WorkerState, WorkersResponse } from '../../../shared/workers.ts';
import { WORKER_STATES } from '../../../shared/names.ts';
import { ApiError, errorMessage } from '../lib/api.ts';
import { Backfill } from '../lib/backfill.ts';
import { Reread } from '../lib/reread.ts';
import type { Timers } from '../lib/timers.ts';
import type { LiveSource } from '../live/source.ts';
import type { WorkersApi } from './api.ts';
import { ExternalStore } from '../lib/external-store.ts';

/** States a worker never leaves. */
const ENDED_STATES: ReadonlySet<WorkerState> = new Set<WorkerState>(['exited', 'failed', 'stopped', 'preempted']);
export const hasEnded = (w: Pick<Worker, 'state'>): boolean => ENDED_STATES.has(w.state);

export interface StateCount {
  state: WorkerState;
  n: number;
}

export interface GroupView {
  name: string;
  /** its replicas' owner(s) */
  owner: string;
  backend: WorkerBackend;
  /** by replica */
  workers: readonly Worker[];
  /** replicas per state, in the order of WORKER_STATES; states with none left out */
  counts: readonly StateCount[];
  /** a replica has not ended */
  live: boolean;
  /** replicas that have ended */
  ended: number;
  /** a DELETE of it is under way */
  deleting: boolean;
  /** the last DELETE of it failed with this */
  deleteError: string | null;
}

export interface WorkersSnapshot {
  /** the REST read has arrived at least once */
  readonly ready: boolean;
  readonly loading: boolean;
  /** the last read failed with this */
  readonly error: string | null;
  /** groups with a replica that has not ended, by name */
  readonly live: readonly GroupView[];
  /** groups whose replicas have all ended, by name */
  readonly ended: readonly GroupView[];
  readonly workers: ReadonlyMap<string, Worker>;
  readonly version: number;
}

export interface WorkersDeps extends Timers {
  api: WorkersApi;
}

export interface WorkersOptions {
  /** why queued replicas wait is read again at most this often while events arrive; default 1 s */
  whyMinIntervalMs?: number;
  /** first retry of a failed read (doubles up to a minute); default 2 s */
  retryMs?: number;
}

export class WorkersStore extends ExternalStore<WorkersSnapshot> {
  private readonly workers = new Map<string, Worker>();
  /** queued workers whose `why` came from a REST read (the server's, from their request's conflict) */
  private readonly whyRead = new Set<string>();
  private readonly deleting = new Set<string>();
  private readonly deleteErrors = new Map<string, string>();

  private started = false;
  /** REST: read once live and watched, again after a replay gap */
  private readonly live: Backfill<WorkersResponse, WorkerChange>;
  /** why queued replicas wait, read again after events */
  private readonly why: Reread<WorkersResponse>;

  private offs: (() => void)[] = [];

  constructor(
    private readonly source: LiveSource,
    private readonly deps: WorkersDeps,
    opts: WorkersOptions = {},
  ) {
    super();
    this.live = new Backfill(source, deps, {
      read: () => this.deps.api.list(),
      take: (answer) => this.take(answer),
      replay: (c) => this.apply(c),
      // the read says why too; one under way is of the old state
      begin: () => this.why.supersede(),
      done: (replayed) => {
        if (replayed.length && this.hasQueued()) this.why.ask();
      },
      unwatched: () => this.why.pause(),
      changed: () => this.changed(),
    }, { retryMs: opts.retryMs ?? 2000 });
    this.why = new Reread(deps, {
      minIntervalMs: opts.whyMinIntervalMs ?? 1000,
      may: () => this.started && this.live.ready && this.live.watched && this.hasQueued(),
      read: () => this.deps.api.list(),
      answer: (answer) => {
        if (Array.isArray(answer?.workers)) this.takeWhy(answer.workers);
      },
      // what is shown stays; the next event asks again
      failed: () => undefined,
    });
  }

  /** Listen to the push. Cheap: REST is asked only while watched. */
  start(): void {
    if (this.started) return;
    this.started = true;
    this.offs = [
      this.source.onEnvelopes('worker_update', (envs) => this.receive(envs.map((e) => e.data))),
      this.source.onEnvelopes('conflict', (envs) => this.onConflicts(envs.map((e) => e.data))),
    ];
    this.live.start();
  }

  stop(): void {
    if (!this.started) return;
    this.started = false;
    for (const off of this.offs.splice(0)) off();
    this.live.stop();
    this.why.cancel();
  }

  /** A view shows the store: read when needed. Returns the release. */
  watch(): () => void {
    return this.live.watch();
  }

  /** Read everything again (after an error, or when asked). */
  refresh(): void {
    this.live.refresh();
  }

  /**
   * Stop and delete a group (DELETE /api/workers/{name}): the server answers once every replica has ended; the
   * replicas end in the page as their events arrive (or with the answer). Resolves true when it is done.
   */
  async deleteGroup(name: string): Promise<boolean> {
    if (this.deleting.has(name)) return false;
    this.deleting.add(name);
    this.deleteErrors.delete(name);
    this.changed();
    try {
      const answer = await this.deps.api.remove(name);
      this.deleting.delete(name);
      if (Array.isArray(answer?.workers)) for (const w of answer.workers) this.takeAnswered(w);
      this.changed();
      return true;
    } catch (err) {
      this.deleting.delete(name);
      this.deleteErrors.set(name, errorMessage(err));
      this.changed();
      // no such group (deleted elsewhere, or the page missed its end): what the page holds is out of date
      if (err instanceof ApiError && err.status === 404) this.refresh();
      return false;
    }
  }

  // ---- REST -------------------------------------------------------------------------------------------------

  private take(answer: WorkersResponse): void {
    if (!Array.isArray(answer?.workers)) throw new Error('GET /api/workers answered something this page does not understand');
    this.workers.clear();
    this.whyRead.clear();
    for (const w of answer.workers) {
      this.workers.set(w.id, w);
      if (w.state === 'queued') this.whyRead.add(w.id);
    }
  }

  /** The reasons the server gives for the replicas still queued (the same ones: no other request). */
  private takeWhy(list: readonly Worker[]): void {
    let moved = false;
    for (const w of list) {
      const cur = this.workers.get(w.id);
      if (!cur || cur.state !== 'queued' || w.state !== 'queued' || (cur.request_id !== null && cur.request_id !== w.request_id)) continue;
      this.whyRead.add(w.id);
      if (cur.why !== w.why || cur.request_id !== w.request_id) {
        this.workers.set(w.id, { ...cur, why: w.why, request_id: w.request_id });
        moved = true;
      }
    }
    if (moved) this.changed();
  }

  /** A worker as a DELETE answered it: taken when it is the one the page holds (same request), ended. */
  private takeAnswered(w: Worker): void {
    const cur = this.workers.get(w.id);
    if (!cur || cur.request_id !== w.request_id) return;
    this.put(w);
  }

  // ---- events -----------------------------------------------------------------------------------------------

  private receive(changes: readonly WorkerChange[]): void {
    if (changes.length === 0) return;
    for (const c of changes) this.apply(c);
    this.live.note(changes);
    this.changed();
    if (this.hasQueued()) this.why.ask();
  }

  /** A queued replica's reason is its request's conflict: read again when conflicts change. */
  private onConflicts(changes: readonly ConflictChange[]): void {
    if (changes.length && this.hasQueued()) this.why.ask();
  }

  private apply(c: WorkerChange): void {
    switch (c.kind) {
      case 'worker_removed':
        this.workers.delete(c.worker.id);
        this.whyRead.delete(c.worker.id);
        return;
      case 'worker_created':
      case 'worker_state':
      case 'worker_engine':
        this.put(c.worker);
        return;
      default:
        // a kind this page does not know yet (newer server): its worker as it is now
        if (c.worker?.id) this.put(c.worker);
    }
  }

  private put(w: Worker): void {
    const before = this.workers.get(w.id);
    // an ended worker does not change again: an older record (replayed after a read) does not bring it back (a new
    // group of the same name removes the old workers first)
    if (before && hasEnded(before) && !hasEnded(w)) return;
    if (before?.state === 'queued' && w.state === 'queued' && this.whyRead.has(w.id)) {
      // the push says "waiting for its grant"; the reason read (behind whom) stands until read again
      this.workers.set(w.id, { ...w, why: before.why });
      return;
    }
    this.whyRead.delete(w.id);
    this.workers.set(w.id, w);
  }

  private hasQueued(): boolean {
    for (const w of this.workers.values()) if (w.state === 'queued') return true;
    return false;
  }

  // ---- snapshot ---------------------------------------------------------------------------------------------


  protected build(): WorkersSnapshot {
    const by = new Map<string, Worker[]>();
    for (const w of this.workers.values()) {
      let g = by.get(w.name);
      if (!g) by.set(w.name, (g = []));
      g.push(w);
    }
    const live: GroupView[] = [];
    const ended: GroupView[] = [];
    for (const name of [...by.keys()].sort()) {
      const workers = by.get(name)!.sort((a, b) => a.replica - b.replica || (a.id < b.id ? -1 : 1));
      const n = new Map<WorkerState, number>();
      for (const w of workers) n.set(w.state, (n.get(w.state) ?? 0) + 1);
      const endedCount = workers.filter(hasEnded).length;
      const view: GroupView = {
        name,
        owner: [...new Set(workers.map((w) => w.owner))].join(', '),
        backend: workers[0]!.backend,
        workers,
        counts: WORKER_STATES.filter((s) => n.has(s)).map((state) => ({ state, n: n.get(state)! })),
        live: endedCount < workers.length,
        ended: endedCount,
        deleting: this.deleting.has(name),
        deleteError: this.deleteErrors.get(name) ?? null,
      };
      (view.live ? live : ended).push(view);
    }
    return {
      ready: this.live.ready,
      loading: this.live.loading,
      error: this.live.error,
      live,
      ended,
      workers: new Map(this.workers),
      version: this.version,
    };
  }
}
