/**
 * Workers in the running server: each replica of a group is a resource request of the scheduler, started on its
 * backend when granted and governed by what the scheduler decides about its allocation afterwards — paused and
 * resumed by time-slicing, stopped gracefully on a preemption notice, stopped when its allocation ends — while
 * this service renews its lease (a worker is never stopped by a lease it cannot see) and releases the allocation
 * when it exits. Engines are created and called through it (`POST /engine`, `POST /call` on the worker's port).
 * Every change of the book is stored and pushed (`worker_update`) in one group commit; after a restart, live
 * workers are adopted from their backends, never started twice.
 */
import type { Change } from '../../../shared/scheduler.ts';
import {
  type CallBody, type EngineBody, type Worker, type WorkerBackend, type WorkerChange,
  type WorkerRecord, type WorkersCreateBody,
} from '../../../shared/workers.ts';
import { ArbiterError } from '../../errors.ts';
import type { Clock } from '../../clock.ts';
import type { Logger } from '../../log.ts';
import type { EventHub } from '../../push/hub.ts';
import type { SchedulerEngine } from '../../scheduler/engine.ts';
import { ENDED, LIVE, LOG_TAIL_LINES, WorkerBook, WorkerError } from '../../workloads/workers/book.ts';
import { requestOf, specResources, workerEnv, WORKER_LABEL } from '../../workloads/workers/requests.ts';
import { GroupCommit, type Transact } from '../group-commit.ts';
import { errorText, getJson, postJson, type GetJson, type PostJson } from '../json-http.ts';
import type { Backend } from './backend.ts';
import { callWorker } from './engine-calls.ts';
import { followChange, type FollowParts } from './follow.ts';
import { allocationOfGpuUser, type GpuUser } from './owners.ts';
import { groupReady } from './ready.ts';
import { RemoteSync } from './remote-sync.ts';
import { RemoteBackend, type RemoteBackends } from './remote.ts';
import { adoptWorkers } from './restart.ts';
import { WorkerUpkeep } from './upkeep.ts';

export interface WorkerStore {
  /** write the current records of the workers these changes are about (deleted: removed ones) */
  apply(changes: readonly WorkerChange[], current: (id: string) => WorkerRecord | undefined): void;
  load(): WorkerRecord[];
}

export interface WorkerServiceOptions {
  engine: SchedulerEngine;
  /**
   * this server's own node, where workers run on `backends`; null: it is not a node (--no-local-node). While no agent
   * runs workers, workers are placed there only
   */
  node: string | null;
  /** workers on agents' nodes: granted there, started by their agents */
  remote?: RemoteBackends;
  book: WorkerBook;
  backends: Partial<Record<WorkerBackend, Backend>>;
  defaultBackend: WorkerBackend;
  hub: EventHub;
  clock: Clock;
  log: Logger;
  store?: WorkerStore;
  transact?: Transact;
  /** a free port for a worker whose spec names none */
  freePort: () => Promise<number>;
  /** grace between SIGTERM / docker stop and the kill, ms @default 10000 */
  graceMs?: number;
  /** how often starting workers are asked for /health and leases renewed, ms @default 500 */
  checkMs?: number;
  /** renew a live worker's lease this often, ms @default 60000 */
  renewMs?: number;
  /** ended workers are forgotten this long after they ended, ms @default 7 days */
  retentionMs?: number;
  /** a call to an engine gets no answer within this, ms @default 300000 */
  callTimeoutMs?: number;
  http?: { get: GetJson; post: PostJson };
  /** a process's group id (tests) @default /proc/<pid>/stat */
  processGroupOf?: (pid: number) => number | null;
}

export { NotReadyError } from './ready.ts';

export class WorkerService {
  readonly book: WorkerBook;
  private readonly commits: GroupCommit<WorkerChange>;
  private readonly offs: (() => void)[] = [];
  private readonly http: { get: GetJson; post: PostJson };
  private pending: Change[] = [];
  private draining = false;
  private readonly upkeep: WorkerUpkeep;
  private readonly followParts: FollowParts;

  constructor(private readonly opts: WorkerServiceOptions) {
    this.book = opts.book;
    this.http = opts.http ?? { get: getJson, post: postJson };
    this.upkeep = new WorkerUpkeep({
      book: opts.book, engine: opts.engine, clock: opts.clock, log: opts.log, get: this.http.get,
      ...(opts.checkMs !== undefined ? { checkMs: opts.checkMs } : {}), ...(opts.renewMs !== undefined ? { renewMs: opts.renewMs } : {}),
      ...(opts.retentionMs !== undefined ? { retentionMs: opts.retentionMs } : {}),
    });
    this.followParts = {
      book: opts.book, clock: opts.clock, graceMs: opts.graceMs ?? 10_000, workerOfRequest: (id) => this.workerOfRequest(id),
      launch: (id) => this.launch(id), stopWorker: (...a) => this.stopWorker(...a), pause: (r, p) => this.pause(r, p),
    };
    this.commits = new GroupCommit<WorkerChange>({
      log: opts.log, what: 'worker changes', ...(opts.transact ? { transact: opts.transact } : {}),
      write: (batch) => {
        opts.store?.apply(batch, (id) => this.book.get(id));
        for (const c of batch) opts.hub.publish('worker_update', c);
      },
    });
  }

  /** Restore, adopt what outlived the last run, follow the scheduler, and start checking. */
  async start(): Promise<void> {
    const { engine, book } = this.opts;
    if (this.opts.store) book.restore(this.opts.store.load());
    this.offs.push(book.onChange(this.commits.add));
    for (const backend of Object.values(this.opts.backends)) {
      this.offs.push(backend.onExit((id, exit) => void this.onExit(id, exit)));
    }
    this.offs.push(engine.onChange((batch) => {
      this.pending.push(...batch);
      if (!this.draining) queueMicrotask(() => this.drain());
    }));
    await this.adopt();
    this.opts.remote?.channel.attach(new RemoteSync({
      book, remote: this.opts.remote, log: this.opts.log, graceMs: this.opts.graceMs ?? 10_000,
      exit: (id, exit) => this.onExit(id, exit), committed: () => this.settled(),
    }));
    this.upkeep.start();
  }

  /** Resolves once every change so far is stored and pushed. */
  committed(): Promise<void> {
    return this.commits.committed();
  }

  /** Stop following and checking; workers keep running (they are adopted at the next start). */
  async stop(): Promise<void> {
    this.upkeep.stop();
    for (const off of this.offs.splice(0)) off();
    this.commits.flush();
    for (const b of Object.values(this.opts.backends)) await b.close();
  }

  /** Where a worker runs when its body names no backend. */
  get defaultBackend(): WorkerBackend {
    return this.opts.defaultBackend;
  }

  /** This server runs workers with `b`, or an agent does. */
  hasBackend(b: WorkerBackend): boolean {
    const ch = this.opts.remote?.channel;
    return this.opts.backends[b] !== undefined || !!ch?.workerNodes().some((n) => ch.backendsOf(n).includes(b));
  }

  /**
   * The node a worker's request is pinned to: the one its body names; else this server's while no agent runs
   * workers; else none (the strategy places it, and the worker starts on the agent of the node it lands on).
   */
  pinOf(ask: { node?: string }): string | undefined {
    if (ask.node !== undefined) return ask.node;
    if (this.opts.node === null || this.opts.remote?.channel.workerNodes().length) return undefined;
    return this.opts.node;
  }

  // ------------------------------------------------------------------ the REST operations

  /** A new group: its replicas become requests of the scheduler (granted ones start at once). */
  async create(body: WorkersCreateBody, owner: string): Promise<Worker[]> {
    const backend = body.backend ?? this.opts.defaultBackend;
    if (!this.hasBackend(backend)) throw new ArbiterError(422, 'backend_unavailable', `the ${backend} backend is not available on this server${backend === 'docker' ? ' (no Docker engine: --no-docker, or none answered)' : ''}`);
    if (backend === 'docker') {
      const bad = body.specs.findIndex((s) => !s.container_image);
      if (bad >= 0) throw new ArbiterError(400, 'invalid_request', `specs.${bad}.container_image: required by the docker backend`, [{ field: `specs.${bad}.container_image`, message: 'required by the docker backend' }]);
    }
    // every replica must be able to fit some day (422 otherwise), before anything is made
    body.specs.forEach((s, i) => {
      const reason = this.opts.engine.neverFits(specResources(s), this.pinOf(body), s.gpu_models);
      if (reason) throw new ArbiterError(422, 'never_fits', `specs.${i}: ${reason}`, { field: `specs.${i}` });
    });
    const made = this.book.create(body, { backend, owner });
    for (const r of made) {
      const res = this.opts.engine.submit(requestOf(r, this.pinOf(r.ask)));
      this.book.requested(r.worker.id, res.request.id);
    }
    this.drain();
    await this.settled();
    return made.map((r) => this.book.must(r.worker.id).worker);
  }

  /** Workers (of a group); a queued one says why it waits (its request's conflict, followed as it changes). */
  list(name?: string): Worker[] {
    const records = name === undefined ? this.book.all() : this.book.group(name);
    return records.sort((a, b) => (a.worker.name === b.worker.name ? a.worker.replica - b.worker.replica : a.worker.name < b.worker.name ? -1 : 1)).map((r) => r.worker);
  }

  /** Every replica of the group running and answering, or the NotReadyError at the timeout (now when 0). */
  waitReady(name: string, timeoutMs: number): Promise<Worker[]> {
    return groupReady(this.book, this.opts.clock, name, timeoutMs);
  }

  /** Stop a group (graceful stop, then kill; queued replicas are withdrawn); resolves when every one has ended. */
  async delete(name: string): Promise<Worker[]> {
    const group = this.book.group(name);
    if (!group.length) throw new WorkerError('not_found', `no worker group ${JSON.stringify(name)}`);
    await Promise.all(group.map((r) => this.stopWorker(r.worker.id, 'stopped', 'deleted', this.opts.graceMs ?? 10_000)));
    await this.settled();
    return this.book.group(name).map((r) => r.worker);
  }

  /** Groups with a worker still alive (those of `owner` when given). */
  liveGroups(owner?: string): string[] {
    return this.book.liveGroups().filter((g) => owner === undefined || this.book.group(g).some((r) => r.worker.owner === owner));
  }

  async logs(id: string, tail: number): Promise<string[]> {
    const r = this.book.must(id);
    const backend = this.backendOf(r);
    if (!backend || r.worker.state === 'queued') return r.worker.log_tail.slice(-tail);
    const lines = await backend.logs(id, tail).catch(() => r.worker.log_tail);
    return lines.slice(-tail);
  }

  /** Create (or replace) the engine of a running worker. */
  async createEngine(id: string, body: EngineBody): Promise<{ engine: string }> {
    const r = this.running(id);
    const answer = await callWorker(this.http.post, r, '/engine', body, this.opts.callTimeoutMs ?? 300_000);
    this.book.engineCreated(id, body.engine);
    await this.settled();
    return answer as { engine: string };
  }

  /** Call a method of a running worker's engine. */
  async call(id: string, body: CallBody): Promise<{ result: unknown }> {
    const r = this.running(id);
    return (await callWorker(this.http.post, r, '/call', body, this.opts.callTimeoutMs ?? 300_000)) as { result: unknown };
  }

  // ------------------------------------------------------------------ following the scheduler

  private drain(): void {
    if (this.draining) return;
    this.draining = true;
    try {
      while (this.pending.length) {
        const batch = this.pending.splice(0);
        for (const c of batch) followChange(c, this.followParts);
      }
    } finally {
      this.draining = false;
    }
  }

  private workerOfRequest(requestId: string): WorkerRecord | undefined {
    const byId = this.book.byRequest(requestId);
    if (byId) return byId;
    const label = this.opts.engine.request(requestId)?.labels?.[WORKER_LABEL];
    return label ? this.book.get(label) : undefined;
  }

  private async pause(r: WorkerRecord, pause: boolean): Promise<void> {
    const backend = this.backendOf(r);
    if (!backend) return;
    try {
      if (pause) {
        await backend.pause(r.worker.id);
        if (r.worker.state === 'running' || r.worker.state === 'starting') this.book.suspended(r.worker.id);
      } else {
        await backend.resume(r.worker.id);
        if (this.book.get(r.worker.id)?.worker.state === 'suspended') this.book.resumed(r.worker.id);
      }
    } catch (err) {
      this.opts.log.warn({ err, worker: r.worker.id }, pause ? 'could not pause a worker' : 'could not resume a worker');
    }
  }

  // ------------------------------------------------------------------ running workers

  /** Start a granted worker on its backend. */
  private async launch(id: string): Promise<void> {
    const r = this.book.must(id);
    const backend = this.backendOf(r);
    const allocationId = r.worker.allocation_id;
    try {
      if (!backend) throw new Error(`the ${r.worker.backend} backend is not available`);
      // on another node its agent picks a free port there
      const port = r.spec.port ?? (backend instanceof RemoteBackend ? 0 : await this.opts.freePort());
      const running = await backend.start({ id, group: r.worker.name, replica: r.worker.replica, spec: r.spec, gpus: r.worker.gpus, port, env: workerEnv(r, port, r.worker.gpus) });
      if (this.book.get(id)?.worker.state !== 'starting') {
        // deleted or preempted while it was being started: it stops now
        await backend.stop(id, 0);
        return;
      }
      this.book.started(id, running);
    } catch (err) {
      this.opts.log.warn({ err, worker: id }, 'a worker could not start');
      if (this.book.get(id)?.worker.state === 'starting') this.book.ended(id, 'failed', `could not start: ${errorText(err)}`);
      if (allocationId) this.release(allocationId);
    }
  }

  /** Ask a worker to stop (or withdraw its request when it is still queued); resolves when it has ended. */
  private async stopWorker(id: string, as: 'stopped' | 'preempted', why: string, graceMs: number): Promise<void> {
    const r = this.book.get(id);
    if (!r || ENDED.has(r.worker.state)) return;
    if (r.worker.state === 'queued') {
      if (r.worker.request_id) {
        try {
          this.opts.engine.cancel(r.worker.request_id);
        } catch {
          // granted meanwhile: the grant follows and is stopped below on the next call
        }
      }
      if (this.book.get(id)?.worker.state === 'queued') this.book.ended(id, 'stopped', why);
      return;
    }
    this.book.stopping(id, as, why);
    const backend = this.backendOf(r);
    if (!backend || !r.ref) {
      // granted but not started yet: launch() sees the state and stops it
      this.book.ended(id, 'stopped', why);
      if (r.worker.allocation_id) this.release(r.worker.allocation_id);
      return;
    }
    await backend.stop(id, graceMs).catch((err: unknown) => this.opts.log.warn({ err, worker: id }, 'could not stop a worker'));
    // the exit listener records how it ended; wait until it has
    await this.until(() => ENDED.has(this.book.get(id)?.worker.state ?? 'stopped'), graceMs + 15_000);
  }

  private async onExit(id: string, exit: { code: number | null; signal: string | null }): Promise<void> {
    const r = this.book.get(id);
    if (!r || ENDED.has(r.worker.state)) return;
    const backend = this.backendOf(r);
    const tail = backend ? await backend.logs(id, LOG_TAIL_LINES).catch(() => r.worker.log_tail) : r.worker.log_tail;
    if (ENDED.has(this.book.get(id)?.worker.state ?? 'stopped')) return;
    this.book.exited(id, exit, tail);
    if (r.worker.allocation_id) this.release(r.worker.allocation_id);
  }

  private release(allocationId: string): void {
    const a = this.opts.engine.allocation(allocationId);
    if (!a || a.state !== 'active') return;
    try {
      this.opts.engine.release(allocationId);
    } catch (err) {
      this.opts.log.warn({ err, allocationId }, 'could not release a worker’s allocation');
    }
  }

  // ------------------------------------------------------------------ restart

  /** After a restart: live workers are taken back from their backends (restart.ts); granted ones not started, started. */
  private async adopt(): Promise<void> {
    const { engine, backends, log, node } = this.opts;
    for (const id of await adoptWorkers({ book: this.book, engine, backends, log, node, pinOf: (r) => this.pinOf(r.ask) })) void this.launch(id);
  }

  /**
   * The allocation a GPU user seen on `node` runs under, when it is one of the workers there (owners.ts): for the
   * scheduler's inventory, a worker's GPU use is its allocation's, not an unmanaged process in the way.
   */
  ownerOf(user: GpuUser, node: string | null = this.opts.node): string | null {
    if (node === this.opts.node || node === null) {
      const here = this.book.all().filter((r) => r.worker.node === null || r.worker.node === node);
      return allocationOfGpuUser(here, user, this.opts.processGroupOf);
    }
    // another node's process: its agent read its group there
    return allocationOfGpuUser(this.book.all().filter((r) => r.worker.node === node), user, () => user.processGroup ?? null);
  }

  // ------------------------------------------------------------------ helpers

  /** Where a worker runs: this server's backend, or the agent of its node's. */
  private backendOf(r: WorkerRecord): Backend | undefined {
    const node = r.worker.node;
    if (node !== null && node !== this.opts.node && this.opts.remote) return this.opts.remote.of(node, r.worker.backend);
    return this.opts.backends[r.worker.backend];
  }

  private running(id: string): WorkerRecord {
    const r = this.book.must(id);
    if (r.worker.state !== 'running') throw new WorkerError('invalid_state', `worker ${id} is ${r.worker.state}, not running`, { id, state: r.worker.state });
    return r;
  }

  /** Wait for the changes of this turn to be handled and committed. */
  private async settled(): Promise<void> {
    this.drain();
    await this.committed();
  }

  private async until(cond: () => boolean, timeoutMs: number): Promise<void> {
    const deadline = this.opts.clock.now() + timeoutMs;
    while (!cond() && this.opts.clock.now() < deadline) await this.book.nextChange(deadline - this.opts.clock.now());
  }
}
