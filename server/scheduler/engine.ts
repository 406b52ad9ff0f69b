/**
 * The scheduler engine: a state machine over requests, allocations and conflicts (no I/O; time from the injected
 * Clock, ids from the injected generator). Every public operation is one transaction: its state changes are
 * collected as Change records (shared/scheduler.ts) and handed to the listeners as one batch, in order, so the
 * layers above persist them in one SQLite transaction and push them. Errors are SchedulerError with a code the
 * REST layer maps (SCHEDULER_ERROR_STATUS).
 *
 * Decisions (`decide`): the strategy orders the waiting requests; each one that fits now is granted (greedy: a
 * request that fits is not held back for an earlier one that does not — no reservations, no preemption yet).
 * Then the conflicts of the requests still waiting are re-evaluated where the ledger changed since.
 * Mutations that free or change capacity (release, expiry, snapshot, strategy switch) run a decision pass in the
 * same batch (`autoDecide`, default on).
 */
import { randomUUID } from 'node:crypto';
import type { Clock } from '../clock.ts';
import {
  LIMITS, RequestInputSchema, SCHEDULER_ERROR_STATUS, normalizeResources,
  type Allocation, type Change, type Conflict, type ConflictHolder, type QueueOrder, type Request, type RequestInputBody,
  type RequestStatus, type Resources, type SchedulerErrorCode, type StrategyName,
} from '../../shared/scheduler.ts';
import {
  ConflictBook, DEFAULT_SEVERITY, allocationHolder, evaluateWait, requestSeverity, sameHolders, scheduleConflicts, scheduleSeverity,
  type ConflictInit, type SeverityConfig, type WaitEvaluation,
} from './conflicts.ts';
import type { Inventory } from './inventory.ts';
import { Ledger, shapeOf, type FreeView, type Holding, type Placement, type Shape } from './ledger.ts';
import { ConflictQueue, IndexedHeap, type QueueEntry } from './queue.ts';
import type { Strategy } from './strategy.ts';
import { priorityBased } from './strategies/priority_based.ts';

export class SchedulerError extends Error {
  readonly status: number;
  constructor(readonly code: SchedulerErrorCode, message: string, readonly details?: unknown) {
    super(message);
    this.name = 'SchedulerError';
    this.status = SCHEDULER_ERROR_STATUS[code];
  }
}

export interface LeaseOptions {
  /** lease of an allocation whose request asked for none @default 600000 (10 min) */
  defaultMs?: number;
  /** longest lease granted or renewed; longer asks are cut to it @default 86400000 (24 h) */
  maxMs?: number;
}

export interface EngineOptions {
  clock: Clock;
  /** ids of requests, allocations, conflicts @default crypto.randomUUID */
  newId?: () => string;
  /** @default priority_based */
  strategy?: Strategy;
  /** node name until the first inventory names it @default "local" */
  node?: string;
  leases?: LeaseOptions;
  severity?: Partial<SeverityConfig>;
  /** run a decision pass after every change that frees or changes capacity @default true */
  autoDecide?: boolean;
  /** ended requests (and their allocations, idempotency keys) kept in memory; the store keeps them all @default 10000 */
  retainEnded?: number;
  /** resolved conflicts kept in memory @default 10000 */
  retainResolvedConflicts?: number;
  /**
   * Conflict refresh work per decision pass or tick: each evaluation of what is in the way (one per shape and
   * priority at a ledger state) and each conflict_updated record counts 1. Waiting requests are refreshed in
   * grant order, so the head of the queue is always current; the rest follow at the next ticks. Bounds the time
   * of a pass (and the records per batch) when a release changes the holders of thousands of waiting requests.
   * @default 128
   */
  refreshBudget?: number;
  /** a listener threw: by default the error is rethrown outside the engine's transaction (queueMicrotask) */
  onListenerError?: (err: unknown) => void;
}

export interface SubmitResult {
  request: Request;
  /** when granted */
  allocation?: Allocation;
  /** when waiting: its open conflict */
  conflict?: Conflict;
  /** true when an earlier submit with the same idempotency key made this request (its current state is returned) */
  replayed: boolean;
}

/** What the store loads at start. */
export interface EngineState {
  requests: readonly Request[];
  allocations: readonly Allocation[];
  conflicts: readonly Conflict[];
}

export type ChangeListener = (changes: readonly Change[]) => void;

interface LeaseItem {
  allocationId: string;
  at: number;
  heapIndex: number;
}

type Evaluation = WaitEvaluation;

const ENDED: ReadonlySet<RequestStatus> = new Set(['released', 'cancelled', 'expired', 'preempted']);
const requestKey = (id: string) => `request:${id}`;

export class SchedulerEngine {
  private readonly clock: Clock;
  private readonly newId: () => string;
  private strategy: Strategy;
  private readonly defaultLeaseMs: number;
  private readonly maxLeaseMs: number;
  private readonly severityCfg: SeverityConfig;
  private readonly autoDecide: boolean;
  private readonly retainEnded: number;
  private readonly onListenerError: (err: unknown) => void;

  private readonly ledger = new Ledger();
  private readonly queue: ConflictQueue;
  private readonly book: ConflictBook;
  private readonly requests = new Map<string, Request>();
  private readonly allocations = new Map<string, Allocation>();
  private readonly leases = new IndexedHeap<LeaseItem>((a, b) => a.at < b.at);
  private readonly leaseOf = new Map<string, LeaseItem>();
  private readonly idempotency = new Map<string, { requestId: string; fingerprint: string }>();
  /** ended request ids, oldest first */
  private readonly ended = new Set<string>();
  /** open schedule_conflict keys → whether it touches an allocation (severity) */
  private readonly scheduleKeys = new Map<string, boolean>();
  private readonly listeners = new Set<ChangeListener>();

  private batch: Change[] = [];
  private depth = 0;
  private dirty = false;
  /** ledger version at the end of the last placement pass: nothing new can fit until it changes */
  private passVersion = -1;
  private forcePass = true;
  /** waiting requests whose conflict predates the ledger's state remain (evaluation budget ran out) */
  private refreshPending = false;
  private readonly refreshBudget: number;
  /** evaluations by shape key at ledger version evalVersion, and the generation before (to keep identical ones) */
  private evalCache = new Map<string, Evaluation>();
  private prevEvalCache = new Map<string, Evaluation>();
  private evalVersion = -1;

  constructor(opts: EngineOptions) {
    this.clock = opts.clock;
    this.newId = opts.newId ?? randomUUID;
    this.strategy = opts.strategy ?? priorityBased();
    this.defaultLeaseMs = opts.leases?.defaultMs ?? 600_000;
    this.maxLeaseMs = opts.leases?.maxMs ?? 86_400_000;
    if (!(this.defaultLeaseMs > 0) || !(this.maxLeaseMs > 0)) throw new Error(`lease default (${this.defaultLeaseMs} ms) and maximum (${this.maxLeaseMs} ms) must be > 0`);
    if (this.defaultLeaseMs > this.maxLeaseMs) throw new Error(`lease default (${this.defaultLeaseMs} ms) must not exceed the lease maximum (${this.maxLeaseMs} ms)`);
    this.severityCfg = { ...DEFAULT_SEVERITY, ...opts.severity };
    this.autoDecide = opts.autoDecide ?? true;
    this.retainEnded = opts.retainEnded ?? 10_000;
    this.refreshBudget = opts.refreshBudget ?? 128;
    this.onListenerError = opts.onListenerError ?? ((err) => queueMicrotask(() => { throw err; }));
    this.ledger.node = opts.node ?? 'local';
    this.queue = new ConflictQueue((r) => this.strategy.effectivePriority(r, this.clock.now()));
    this.book = new ConflictBook({ newId: this.newId, maxResolved: opts.retainResolvedConflicts });
  }

  // ------------------------------------------------------------------ listeners and transactions

  /** Every batch of changes, in order; returns the unsubscribe function. */
  onChange(listener: ChangeListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  private transact<T>(fn: () => T): { value: T; changes: Change[] } {
    const start = this.batch.length;
    this.depth++;
    let changes: Change[] = [];
    let value: T;
    try {
      value = fn();
    } finally {
      this.depth--;
      changes = this.batch.slice(start);
      if (this.depth === 0) this.flush();
    }
    return { value, changes };
  }

  private flush(): void {
    const changes = this.batch;
    this.batch = [];
    if (!changes.length) return;
    for (const l of this.listeners) {
      try {
        l(changes);
      } catch (err) {
        this.onListenerError(err);
      }
    }
  }

  private emit(c: Change | null): void {
    if (c) this.batch.push(c);
  }

  // ------------------------------------------------------------------ commands

  /**
   * Submit a request (the POST body). Granted at once when it fits (and nothing freed since the last decision
   * is still to be handed out), else queued with an open conflict. With an idempotency key, a retry returns the
   * request the first submit made, in its current state (`replayed: true`); the same key with another body is
   * `idempotency_conflict`. Throws invalid_request (schema), never_fits (more than the node has).
   */
  submit(input: RequestInputBody, opts: { idempotencyKey?: string } = {}): SubmitResult {
    const parsed = RequestInputSchema.safeParse(input);
    if (!parsed.success) {
      const problems = parsed.error.issues.map((i) => ({ field: i.path.join('.') || '(body)', message: i.message }));
      throw new SchedulerError('invalid_request', `invalid request: ${problems.map((p) => `${p.field}: ${p.message}`).join('; ')}`, problems);
    }
    const body = parsed.data;
    const resources = normalizeResources(body.resources);
    const fields = {
      owner: body.owner,
      ...(body.group !== undefined ? { group: body.group } : {}),
      priority: body.priority,
      resources,
      ...(body.expectedDurationMs !== undefined ? { expectedDurationMs: body.expectedDurationMs } : {}),
      preemptible: body.preemptible,
      ...(body.leaseMs !== undefined ? { leaseMs: body.leaseMs } : {}),
      ...(body.labels !== undefined ? { labels: body.labels } : {}),
    };
    const key = opts.idempotencyKey;
    if (key !== undefined) {
      if (key.length < 1 || key.length > LIMITS.string) throw new SchedulerError('invalid_request', `idempotency key must be 1–${LIMITS.string} characters`);
      const prior = this.idempotency.get(key);
      const prev = prior && this.requests.get(prior.requestId);
      if (prior && prev) {
        if (prior.fingerprint !== fingerprint(fields)) {
          throw new SchedulerError('idempotency_conflict', `idempotency key ${JSON.stringify(key)} was used for request ${prev.id} with a different body`, { requestId: prev.id });
        }
        return { ...this.resultOf(prev), replayed: true };
      }
    }
    const shape = shapeOf(resources);
    const reason = this.ledger.neverFits(shape);
    if (reason) throw new SchedulerError('never_fits', reason, { resources, capacity: this.ledger.capacity });

    return this.transact(() => {
      if (this.dirty && this.autoDecide) this.decidePass();
      const now = this.clock.now();
      const request: Request = {
        id: this.newId(), ...fields, submittedAt: now, updatedAt: now, status: 'queued',
        ...(key !== undefined ? { idempotencyKey: key } : {}),
      };
      this.requests.set(request.id, request);
      if (key !== undefined) this.idempotency.set(key, { requestId: request.id, fingerprint: fingerprint(fields) });
      const placement = this.ledger.knows(shape) ? this.strategy.place(request, this.ledger) : null;
      if (placement) this.grant(request, placement, now);
      else this.enqueue(request, now);
      return { ...this.resultOf(this.requests.get(request.id)!), replayed: false };
    }).value;
  }

  /** Cancel a waiting request. Cancelling a cancelled request returns it; a granted one is invalid_state (release its allocation). */
  cancel(requestId: string): Request {
    const r = this.requests.get(requestId);
    if (!r) throw new SchedulerError('not_found', `no request ${requestId}`);
    if (r.status === 'cancelled') return r;
    if (r.status !== 'queued') {
      const hint = r.status === 'granted' ? `; release allocation ${r.allocationId} instead` : '';
      throw new SchedulerError('invalid_state', `request ${requestId} is ${r.status}, not queued${hint}`, { status: r.status });
    }
    return this.transact(() => {
      const now = this.clock.now();
      const entry = this.queue.remove(requestId);
      if (entry?.conflict) this.emit(this.book.resolve(entry.conflict.id, 'cancelled', now));
      const next: Request = { ...r, status: 'cancelled', updatedAt: now };
      this.requests.set(requestId, next);
      this.emit({ kind: 'request_cancelled', at: now, request: next });
      this.markEnded(requestId);
      return next;
    }).value;
  }

  /** Release an active allocation (its request becomes `released`); releasing a released one returns it. */
  release(allocationId: string): Allocation {
    const a = this.requireAllocation(allocationId);
    if (a.state === 'released') return a;
    if (a.state !== 'active') throw new SchedulerError('invalid_state', `allocation ${allocationId} is ${a.state}`, { state: a.state });
    return this.transact(() => {
      const now = this.clock.now();
      this.endAllocation(a, 'released', now);
      this.syncScheduleConflicts(now);
      if (this.autoDecide) this.decidePass();
      return this.allocations.get(allocationId)!;
    }).value;
  }

  /**
   * Heartbeat: the lease runs `leaseMs` (else the request's lease, else the default) from now, cut to the maximum.
   * A lease already past its end is expired here and the call fails with invalid_state.
   */
  renew(allocationId: string, leaseMs?: number): Allocation {
    const a = this.requireAllocation(allocationId);
    if (a.state !== 'active') throw new SchedulerError('invalid_state', `allocation ${allocationId} is ${a.state}`, { state: a.state });
    if (leaseMs !== undefined && !(Number.isInteger(leaseMs) && leaseMs >= 1 && leaseMs <= LIMITS.durationMs)) {
      throw new SchedulerError('invalid_request', `leaseMs must be an integer from 1 to ${LIMITS.durationMs}`);
    }
    const now = this.clock.now();
    if (now >= a.leaseExpiresAt) {
      this.expireLeases();
      throw new SchedulerError('invalid_state', `the lease of allocation ${allocationId} expired at ${new Date(a.leaseExpiresAt).toISOString()}`, { state: 'expired' });
    }
    return this.transact(() => {
      const request = this.requests.get(a.requestId);
      const next: Allocation = { ...a, leaseExpiresAt: now + this.leaseFor(leaseMs ?? request?.leaseMs) };
      this.allocations.set(a.id, next);
      const item = this.leaseOf.get(a.id);
      if (item) {
        item.at = next.leaseExpiresAt;
        this.leases.update(item);
      }
      this.emit({ kind: 'allocation_renewed', at: now, allocation: next });
      return next;
    }).value;
  }

  /** Expire every lease that ended by now (allocation and request `expired`), then let the queue move. */
  expireLeases(): Change[] {
    return this.transact(() => {
      const now = this.clock.now();
      let any = false;
      for (let top = this.leases.peek(); top && top.at <= now; top = this.leases.peek()) {
        const a = this.allocations.get(top.allocationId);
        if (a?.state === 'active') this.endAllocation(a, 'expired', now);
        else this.leases.remove(top);
        any = true;
      }
      if (any) {
        this.syncScheduleConflicts(now);
        if (this.autoDecide) this.decidePass();
      }
    }).changes;
  }

  /** The node's capacity and GPU users changed (a new snapshot): schedule_conflicts follow, then a decision pass. */
  onSnapshot(inventory: Inventory): Change[] {
    return this.transact(() => {
      const before = this.ledger.version;
      this.ledger.setInventory(inventory);
      this.syncScheduleConflicts(this.clock.now());
      if (this.ledger.version !== before) this.dirty = true;
      if (this.dirty && this.autoDecide) this.decidePass();
    }).changes;
  }

  /**
   * A decision pass: grant what fits in the strategy's order, then re-evaluate the conflicts of what still waits.
   * When the ledger has not changed since the last pass (and no strategy switch or restore happened), nothing new
   * can fit and the placement part is skipped, unless `force`.
   */
  decide(opts: { force?: boolean } = {}): Change[] {
    if (opts.force) this.forcePass = true;
    return this.transact(() => this.decidePass()).changes;
  }

  /** Periodic work (e.g. each second): expire leases, grow severities with waiting, decide if anything changed. */
  tick(): Change[] {
    return this.transact(() => {
      this.expireLeases();
      const now = this.clock.now();
      this.refreshSeverities(now);
      // a pass also when only grants changed the ledger since the last one: waiting requests' holders follow
      if (this.autoDecide && (this.dirty || this.passVersion !== this.ledger.version)) this.decidePass();
      else if (this.refreshPending) this.refreshConflicts(now, this.queue.requests());
    }).changes;
  }

  /** Switch strategy: takes effect at once (a decision pass follows). */
  setStrategy(strategy: Strategy): Change[] {
    return this.transact(() => {
      const previous = this.strategy.name;
      this.strategy = strategy;
      this.queue.setPriorityOf((r) => strategy.effectivePriority(r, this.clock.now()));
      this.emit({ kind: 'strategy_changed', at: this.clock.now(), strategy: strategy.name, previous });
      this.dirty = true;
      this.forcePass = true;
      if (this.autoDecide) this.decidePass();
    }).changes;
  }

  /**
   * Rebuild from the store (into an empty engine). Active allocations are booked as they were (even before the
   * inventory is known); waiting requests go back to the queue with their open conflict (one is opened if
   * missing); an open request conflict whose request no longer waits is resolved `cleared`; leases that ended
   * while the server was down expire now. Returns (and emits) what changed while restoring.
   */
  restore(state: EngineState): Change[] {
    if (this.requests.size || this.allocations.size || this.book.openCount) throw new Error('restore needs an empty engine');
    return this.transact(() => {
      const now = this.clock.now();
      this.book.restore(state.conflicts);
      for (const c of this.book.openConflicts()) if (c.type === 'schedule_conflict') this.scheduleKeys.set(c.key, c.requestId !== null);
      const requests = [...state.requests].sort((a, b) => a.submittedAt - b.submittedAt || (a.id < b.id ? -1 : 1));
      for (const r of requests) {
        this.requests.set(r.id, r);
        if (r.idempotencyKey !== undefined) this.idempotency.set(r.idempotencyKey, { requestId: r.id, fingerprint: fingerprint(r) });
        if (ENDED.has(r.status)) this.markEnded(r.id);
      }
      for (const a of state.allocations) {
        this.allocations.set(a.id, a);
        if (a.state !== 'active') continue;
        const r = this.requests.get(a.requestId);
        this.ledger.allocate(a.id, shapeOf(a.resources), a.gpuIndices, {
          requestId: a.requestId, owner: r?.owner ?? '', priority: r?.priority ?? 0, grantedAt: a.grantedAt,
        }, true);
        this.addLease(a.id, a.leaseExpiresAt);
      }
      for (const r of requests) {
        if (r.status !== 'queued') continue;
        const c = this.book.openFor(requestKey(r.id));
        if (c) this.queue.insert(r, c);
        else this.enqueue(r, now, false);
      }
      for (const c of [...this.book.openConflicts()]) {
        if (c.key.startsWith('request:') && c.requestId !== null && !this.queue.has(c.requestId)) this.emit(this.book.resolve(c.id, 'cleared', now));
      }
      this.dirty = true;
      this.forcePass = true;
      this.expireLeases();
    }).changes;
  }

  // ------------------------------------------------------------------ queries

  request(id: string): Request | undefined {
    return this.requests.get(id);
  }

  allocation(id: string): Allocation | undefined {
    return this.allocations.get(id);
  }

  conflict(id: string): Conflict | undefined {
    return this.book.get(id);
  }

  /** Requests kept in memory (all waiting and granted ones, the latest ended ones), optionally by status. */
  listRequests(status?: RequestStatus): Request[] {
    const out: Request[] = [];
    for (const r of this.requests.values()) if (!status || r.status === status) out.push(r);
    return out;
  }

  listAllocations(state?: Allocation['state']): Allocation[] {
    const out: Allocation[] = [];
    for (const a of this.allocations.values()) if (!state || a.state === state) out.push(a);
    return out;
  }

  openConflicts(): Conflict[] {
    return [...this.book.openConflicts()];
  }

  /** Conflicts kept in memory, open and resolved, oldest first. */
  conflicts(): Conflict[] {
    return [...this.book.all()];
  }

  /** A page of the queue (see ConflictQueue.list for the cost). */
  listQueue(order: QueueOrder, limit: number, offset = 0): { total: number; items: { request: Request; conflict: Conflict | null }[] } {
    const { total, items } = this.queue.list(order, limit, offset);
    return { total, items: items.map((e) => ({ request: e.request, conflict: e.conflict })) };
  }

  get queueSize(): number {
    return this.queue.size;
  }

  free(): FreeView {
    return this.ledger.free();
  }

  capacity(): { cpu: number | null; memoryMiB: number | null; gpus: number | null } {
    return this.ledger.capacity;
  }

  get strategyName(): StrategyName {
    return this.strategy.name;
  }

  /** Why these resources can never fit the node (for a 422), or null. */
  neverFits(resources: Resources): string | null {
    return this.ledger.neverFits(shapeOf(resources));
  }

  /** When the next lease ends (schedule `expireLeases`/`tick` for then), or null. */
  nextLeaseExpiry(): number | null {
    return this.leases.peek()?.at ?? null;
  }

  // ------------------------------------------------------------------ internals

  private requireAllocation(id: string): Allocation {
    const a = this.allocations.get(id);
    if (!a) throw new SchedulerError('not_found', `no allocation ${id}`);
    return a;
  }

  private resultOf(r: Request): Omit<SubmitResult, 'replayed'> {
    if (r.status === 'queued') {
      const c = this.queue.get(r.id)?.conflict;
      return c ? { request: r, conflict: c } : { request: r };
    }
    const a = r.allocationId === undefined ? undefined : this.allocations.get(r.allocationId);
    return a ? { request: r, allocation: a } : { request: r };
  }

  private leaseFor(ms: number | undefined): number {
    return Math.min(ms ?? this.defaultLeaseMs, this.maxLeaseMs);
  }

  private addLease(allocationId: string, at: number): void {
    const item: LeaseItem = { allocationId, at, heapIndex: -1 };
    this.leaseOf.set(allocationId, item);
    this.leases.push(item);
  }

  private grant(request: Request, placement: Placement, now: number): void {
    const allocation: Allocation = {
      id: this.newId(),
      requestId: request.id,
      node: this.ledger.node,
      gpuIndices: placement.gpuIndices,
      resources: request.resources,
      grantedAt: now,
      leaseExpiresAt: now + this.leaseFor(request.leaseMs),
      state: 'active',
    };
    this.ledger.allocate(allocation.id, shapeOf(request.resources), placement.gpuIndices, {
      requestId: request.id, owner: request.owner, priority: request.priority, grantedAt: now,
    });
    this.allocations.set(allocation.id, allocation);
    this.addLease(allocation.id, allocation.leaseExpiresAt);
    const granted: Request = { ...request, status: 'granted', allocationId: allocation.id, updatedAt: now };
    this.requests.set(request.id, granted);
    this.emit({ kind: 'request_granted', at: now, request: granted });
    this.emit({ kind: 'allocation_granted', at: now, allocation });
    const entry = this.queue.remove(request.id);
    if (entry?.conflict) this.emit(this.book.resolve(entry.conflict.id, 'granted', now));
  }

  private enqueue(request: Request, now: number, announce = true): void {
    const e = this.queue.insert(request, null, this.ledger.version);
    const ev = this.evaluation(e.shape, request.priority, e.shapeKey);
    const opened = this.book.openConflict({
      key: requestKey(request.id), requestId: request.id, ...ev,
      severity: this.severityOf(request, e.shape, now),
    }, now);
    e.evaluation = ev;
    this.queue.update(request.id, { conflict: opened.conflict });
    if (announce) this.emit({ kind: 'request_queued', at: now, request });
    this.emit(opened);
  }

  private endAllocation(a: Allocation, state: 'released' | 'expired' | 'preempted', now: number): void {
    this.ledger.release(a.id);
    const item = this.leaseOf.get(a.id);
    if (item) {
      this.leases.remove(item);
      this.leaseOf.delete(a.id);
    }
    const allocation: Allocation = { ...a, state, endedAt: now };
    this.allocations.set(a.id, allocation);
    const r = this.requests.get(a.requestId);
    const request: Request = r
      ? { ...r, status: state, updatedAt: now }
      : { id: a.requestId, owner: '', priority: 0, resources: a.resources, preemptible: false, submittedAt: a.grantedAt, updatedAt: now, status: state };
    this.requests.set(request.id, request);
    const kind = state === 'released' ? 'allocation_released' : state === 'expired' ? 'allocation_expired' : 'allocation_preempted';
    this.emit({ kind, at: now, allocation, request });
    this.markEnded(request.id);
    this.dirty = true;
  }

  private markEnded(requestId: string): void {
    this.ended.delete(requestId);
    this.ended.add(requestId);
    while (this.ended.size > this.retainEnded) {
      const oldest = this.ended.values().next().value as string;
      this.ended.delete(oldest);
      const r = this.requests.get(oldest);
      this.requests.delete(oldest);
      if (r?.allocationId !== undefined) {
        const a = this.allocations.get(r.allocationId);
        if (a && a.state !== 'active') this.allocations.delete(r.allocationId);
      }
      if (r?.idempotencyKey !== undefined && this.idempotency.get(r.idempotencyKey)?.requestId === oldest) this.idempotency.delete(r.idempotencyKey);
    }
  }

  private decidePass(): void {
    this.dirty = false;
    if (!this.queue.size) return;
    const now = this.clock.now();
    if (!this.forcePass && this.passVersion === this.ledger.version) {
      if (this.refreshPending) this.refreshConflicts(now, this.queue.requests());
      return;
    }
    this.forcePass = false;
    const order = this.strategy.order(this.queue, now);
    for (const r of order) {
      const e = this.queue.get(r.id);
      if (!e || !this.ledger.knows(e.shape) || !this.ledger.fits(e.shape)) continue;
      const placement = this.strategy.place(e.request, this.ledger);
      if (placement) this.grant(e.request, placement, now);
    }
    this.passVersion = this.ledger.version;
    this.refreshConflicts(now, order);
  }

  /**
   * Re-evaluate the conflicts of waiting requests (in the given order) whose evaluation predates the ledger's
   * state. Requests of the same shape and priority share one evaluation. Stops when the refresh budget is spent
   * (refreshPending: the next tick goes on).
   */
  private refreshConflicts(now: number, order: Iterable<Request>): void {
    const version = this.ledger.version;
    let budget = this.refreshBudget;
    this.refreshPending = false;
    for (const r of order) {
      const e = this.queue.get(r.id);
      if (!e || e.evaluatedAt === version) continue;
      if (!this.ledger.knows(e.shape)) continue; // keep what was known (e.g. restored) until the capacity is
      if (budget <= 0) {
        this.refreshPending = true;
        break;
      }
      let ev = this.cachedEvaluation(e.shapeKey);
      if (!ev) {
        budget--;
        ev = this.evaluation(e.shape, e.request.priority, e.shapeKey);
      }
      e.evaluatedAt = version;
      const severity = this.severityOf(e.request, e.shape, now);
      if (e.evaluation === ev && e.conflict?.severity === severity) continue;
      e.evaluation = ev;
      if (this.updateEntryConflict(e, { ...ev, severity }, now)) budget--;
    }
  }

  private cachedEvaluation(key: string): Evaluation | undefined {
    if (this.evalVersion !== this.ledger.version) {
      if (this.evalCache.size) this.prevEvalCache = this.evalCache;
      this.evalCache = new Map();
      this.evalVersion = this.ledger.version;
    }
    return this.evalCache.get(key);
  }

  /** Evaluate and cache; an evaluation equal to the previous generation's keeps its identity (cheap "unchanged"). */
  private evaluation(shape: Shape, priority: number, key: string): Evaluation {
    const cached = this.cachedEvaluation(key);
    if (cached) return cached;
    let ev = this.evaluate(shape, priority);
    const prev = this.prevEvalCache.get(key);
    if (prev && prev.type === ev.type && prev.resource === ev.resource && prev.message === ev.message && sameHolders(prev.holders, ev.holders)) ev = prev;
    this.evalCache.set(key, ev);
    return ev;
  }

  private refreshSeverities(now: number): void {
    for (const e of this.queue.entries()) {
      if (!e.conflict) continue;
      const severity = this.severityOf(e.request, e.shape, now);
      if (severity !== e.conflict.severity) this.updateEntryConflict(e, { severity }, now);
    }
    for (const [key, touchesAllocation] of this.scheduleKeys) {
      const c = this.book.openFor(key);
      if (!c) continue;
      this.emit(this.book.update(c.id, { severity: scheduleSeverity({ touchesAllocation, openMs: now - c.openedAt }, this.severityCfg) }, now));
    }
  }

  /** true when the conflict changed (a record was emitted) */
  private updateEntryConflict(e: QueueEntry, patch: Partial<Omit<ConflictInit, 'key'>>, now: number): boolean {
    if (!e.conflict) return false;
    const change = this.book.update(e.conflict.id, patch, now);
    if (!change) return false;
    this.emit(change);
    this.queue.update(e.request.id, { conflict: change.conflict });
    return true;
  }

  private severityOf(r: Request, shape: Shape, now: number): number {
    return requestSeverity({ priority: r.priority, waitMs: now - r.submittedAt, share: this.ledger.dominantShare(shape) }, this.severityCfg);
  }

  /** One holder object per holding, so that equal holder lists compare by identity. */
  private readonly holderObjects = new WeakMap<Holding, ConflictHolder>();

  private holderOf(h: Holding): ConflictHolder {
    let o = this.holderObjects.get(h);
    if (!o) this.holderObjects.set(h, (o = allocationHolder(h)));
    return o;
  }

  private evaluate(shape: Shape, priority: number): Evaluation {
    return evaluateWait(this.ledger, shape, priority, this.strategy.name, (h) => this.holderOf(h));
  }

  /**
   * schedule_conflicts from the GPUs' users: one per GPU with users no allocation accounts for
   * (`unmanaged:gpu:<i>`), one per ended allocation whose processes still run (`lease:<allocationId>`);
   * resolved `cleared` when reality agrees with the ledger again.
   */
  private syncScheduleConflicts(now: number): void {
    const want = scheduleConflicts(this.ledger, (id) => this.allocations.get(id));
    for (const key of [...this.scheduleKeys.keys()]) {
      if (want.has(key)) continue;
      const c = this.book.openFor(key);
      if (c) this.emit(this.book.resolve(c.id, 'cleared', now));
      this.scheduleKeys.delete(key);
    }
    for (const [key, { touches, ...init }] of want) {
      const c = this.book.openFor(key);
      const severity = scheduleSeverity({ touchesAllocation: touches, openMs: c ? now - c.openedAt : 0 }, this.severityCfg);
      if (c) this.emit(this.book.update(c.id, { ...init, severity }, now));
      else this.emit(this.book.openConflict({ key, ...init, severity }, now));
      this.scheduleKeys.set(key, touches);
    }
  }
}

/** What identifies a submit's body, for idempotency (key order does not matter). */
function fingerprint(r: Pick<Request, 'owner' | 'group' | 'priority' | 'resources' | 'expectedDurationMs' | 'preemptible' | 'leaseMs' | 'labels'>): string {
  return stableJson({
    owner: r.owner, group: r.group, priority: r.priority, resources: r.resources, expectedDurationMs: r.expectedDurationMs,
    preemptible: r.preemptible, leaseMs: r.leaseMs, labels: r.labels,
  });
}

function stableJson(v: unknown): string {
  if (v === null || typeof v !== 'object') return JSON.stringify(v) ?? 'null';
  if (Array.isArray(v)) return `[${v.map(stableJson).join(',')}]`;
  const o = v as Record<string, unknown>;
  return `{${Object.keys(o).filter((k) => o[k] !== undefined).sort().map((k) => `${JSON.stringify(k)}:${stableJson(o[k])}`).join(',')}}`;
}
