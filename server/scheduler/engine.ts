/**
 * The scheduler engine: a state machine over requests, allocations and conflicts (no I/O; time from the injected
 * Clock, ids from the injected generator). Every public operation is one transaction: its state changes are
 * collected as Change records (shared/scheduler.ts) and handed to the listeners as one batch, in order, so the
 * layers above persist them in one SQLite transaction and push them. Errors are SchedulerError with a code the
 * REST layer maps (SCHEDULER_ERROR_STATUS).
 *
 * Decisions (`decide`): the strategy orders the waiting requests; each one that fits now is placed where the
 * strategy says (greedy: a request that fits is not held back for an earlier one that does not — no reservations).
 * A request that does not fit may have the strategy plan a preemption: its victims get an `allocation_preempting`
 * notice and are ended `preempted` when their grace period is over (at once with no grace), and the request is
 * placed on what they free. Time-slicing strategies rotate GPU holders every quantum (`allocation_suspended` /
 * `allocation_resumed`, see `rotate`). Then the conflicts of the requests still waiting are re-evaluated where the
 * cluster changed since. Mutations that free or change capacity (release, expiry, snapshot, strategy switch) run a
 * decision pass in the same batch (`autoDecide`, default on).
 *
 * The cluster has one node in the running server (the machine it monitors) and many in the simulator; usage per
 * owner and group (fair-share) is tracked here, across strategy switches.
 */
import { randomUUID } from 'node:crypto';
import type { Clock } from '../clock.ts';
import { ArbiterError, fieldProblems, problemsText } from '../errors.ts';
import {
  LIMITS, RequestInputSchema, SCHEDULER_ERROR_STATUS, normalizeResources,
  type Allocation, type Change, type Conflict, type ConflictHolder, type QueueOrder, type Request, type RequestInputBody,
  type RequestStatus, type Resources, type SchedulerErrorCode, type StrategyName,
} from '../../shared/scheduler.ts';
import {
  ConflictBook, DEFAULT_SEVERITY, allocationHolder, evaluateWait, requestSeverity, sameHolders, scheduleConflicts, scheduleSeverity,
  type ConflictInit, type ScheduleConflictWant, type SeverityConfig, type WaitEvaluation,
} from './conflicts.ts';
import { Cluster, type Placement, type PreemptionPlan } from './cluster.ts';
import type { Inventory } from './inventory.ts';
import { shapeOf, type FreeView, type Holding, type Shape } from './ledger.ts';
import { ConflictQueue, IndexedHeap, type QueueEntry } from './queue.ts';
import type { SliceCandidate, Strategy, StrategyContext } from './strategy.ts';
import { priorityBased } from './strategies/priority_based.ts';
import { UsageTracker, type Amount } from './usage.ts';

export class SchedulerError extends ArbiterError {
  declare readonly code: SchedulerErrorCode;
  constructor(code: SchedulerErrorCode, message: string, details?: unknown) {
    super(SCHEDULER_ERROR_STATUS[code], code, message, details);
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
   * @default 32
   */
  refreshBudget?: number;
  /** a listener threw: by default the error is rethrown outside the engine's transaction (queueMicrotask) */
  onListenerError?: (err: unknown) => void;
  /** live GPU utilisation (%) from the monitor, for strategies that weigh it (load_balancing) */
  gpuUtilisation?: (node: string, index: number) => number | null;
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

/** Time-slicing bookkeeping of an allocation whose request rotates. */
interface SliceState {
  /** GPU·ms received before `runningSince` */
  attainedMs: number;
  runningSince: number | null;
  suspendedSince: number | null;
  /** run time so far, ms */
  ranMs: number;
}

type Evaluation = WaitEvaluation;

/**
 * Preemption plans tried per decision pass (the first request in the strategy's order that does not fit and may
 * have victims): planning is a victim search on every node, and the head of the queue is what preemption is for
 * (kube-scheduler preempts for one pod per scheduling cycle). Passes come with every release and each tick.
 */
const PREEMPT_ATTEMPTS_PER_PASS = 1;

/**
 * Once nothing waiting fits, a pass walks on only this far down the order looking for a request to preempt for
 * (requests already under a preemption notice's grace are passed over; further down the order is lower priority).
 */
const PREEMPT_SCAN = 256;

/** Waiting requests a conflict refresh looks at per unit of refresh budget. */
const REFRESH_SCAN_PER_BUDGET = 1;

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

  private readonly cluster: Cluster;
  private readonly usage = new UsageTracker();
  /** preemption deadlines (allocation id → when its resources are taken) */
  private readonly preemptions = new IndexedHeap<LeaseItem>((a, b) => a.at < b.at);
  private readonly preemptionOf = new Map<string, LeaseItem>();
  /** bumped whenever an allocation comes under a preemption notice or leaves it (victim searches cache on it) */
  private noticeEpoch = 0;
  /** waiting request → the allocations under notice for it */
  private readonly preemptFor = new Map<string, Set<string>>();
  /** a request was queued that does not fit: the next tick or step runs a pass (preemption) */
  private preemptCheck = false;
  /** waiting requests for which a holder was actually preempted */
  private readonly preemptedFor = new Set<string>();
  private readonly slices = new Map<string, SliceState>();
  private nextRotation: number | null = null;
  private readonly gpuUtilisation: (node: string, index: number) => number | null;
  private readonly context: StrategyContext;
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
    this.refreshBudget = opts.refreshBudget ?? 32;
    this.onListenerError = opts.onListenerError ?? ((err) => queueMicrotask(() => { throw err; }));
    this.cluster = new Cluster(opts.node ?? 'local');
    this.gpuUtilisation = opts.gpuUtilisation ?? (() => null);
    const engine = this;
    this.context = {
      get now() { return engine.clock.now(); },
      cluster: this.cluster,
      usage: this.usage,
      gpuUtilisation: (node, index) => engine.gpuUtilisation(node, index),
      preempting: (id) => engine.preemptionOf.has(id),
      get noticeEpoch() { return engine.noticeEpoch; },
    };
    this.applyStrategySettings();
    this.queue = new ConflictQueue((r) => this.strategy.effectivePriority(r, this.context));
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
      const problems = fieldProblems(parsed.error);
      throw new SchedulerError('invalid_request', `invalid request: ${problemsText(problems)}`, problems);
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
    const reason = this.cluster.neverFits(shape);
    if (reason) throw new SchedulerError('never_fits', reason, { resources, capacity: this.cluster.capacity });

    return this.transact(() => {
      if (this.dirty && this.autoDecide) this.decidePass();
      const now = this.clock.now();
      const request: Request = {
        id: this.newId(), ...fields, submittedAt: now, updatedAt: now, status: 'queued',
        ...(key !== undefined ? { idempotencyKey: key } : {}),
      };
      this.requests.set(request.id, request);
      if (key !== undefined) this.idempotency.set(key, { requestId: request.id, fingerprint: fingerprint(fields) });
      // a sliced request waits its turn while others wait for the rotation (no jumping the queue)
      const placement = this.cluster.knows(shape) && this.cluster.fits(shape) ? this.placeFor(request, shape) : null;
      if (placement) this.grant(request, placement, now);
      else {
        this.enqueue(request, now);
        // the next tick (or simulator step) runs a pass that may preempt for it
        if (this.cluster.knows(shape) && !this.cluster.fits(shape)) this.preemptCheck = true;
      }
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
      this.withdrawPreemption(requestId, now);
      const next: Request = { ...r, status: 'cancelled', updatedAt: now };
      this.requests.set(requestId, next);
      this.preemptedFor.delete(requestId);
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
      for (let top = this.preemptions.peek(); top && top.at <= now; top = this.preemptions.peek()) {
        this.preemptions.remove(top);
        this.preemptionOf.delete(top.allocationId); this.noticeEpoch++;
        const a = this.allocations.get(top.allocationId);
        if (a?.state === 'active') this.endAllocation(a, 'preempted', now);
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
      const before = this.cluster.version;
      this.cluster.setInventory(inventory);
      this.syncCapacity();
      this.syncScheduleConflicts(this.clock.now());
      if (this.cluster.version !== before) this.dirty = true;
      if (this.strategy.usesUtilisation && this.queue.size) {
        this.dirty = true;
        this.forcePass = true;
      }
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

  /**
   * Periodic work (e.g. each second): expire leases and preemption deadlines, rotate time slices when a quantum
   * is over, grow severities with waiting, decide if anything changed.
   */
  tick(): Change[] {
    return this.transact(() => {
      this.expireLeases();
      const now = this.clock.now();
      if (this.nextRotation !== null && now >= this.nextRotation) this.rotate(now);
      this.refreshSeverities(now);
      // waiting makes preemption possible (age, starvation timeouts): a queue with candidates gets a pass each tick
      if (this.autoDecide && this.queue.size && this.hasPreemptionCandidates()) this.forcePass = true;
      this.preemptCheck = false;
      // a pass also when only grants changed the ledger since the last one: waiting requests' holders follow
      if (this.autoDecide && (this.dirty || this.forcePass || this.passVersion !== this.cluster.version)) this.decidePass();
      else if (this.refreshPending) this.refreshConflicts(now, this.queue.requests());
    }).changes;
  }

  /**
   * The simulator's step: leases and preemption deadlines due by now, a rotation when due, and a decision pass
   * when something changed — without the per-second severity refresh of `tick`.
   */
  advance(): Change[] {
    return this.transact(() => {
      this.expireLeases();
      const now = this.clock.now();
      if (this.nextRotation !== null && now >= this.nextRotation) this.rotate(now);
      if (this.preemptCheck && this.queue.size && this.hasPreemptionCandidates()) this.forcePass = true;
      this.preemptCheck = false;
      if (this.autoDecide && (this.dirty || this.forcePass)) this.decidePass();
    }).changes;
  }

  /** When the engine next has timed work (a lease end, a preemption deadline, a rotation), or null. */
  nextWakeup(): number | null {
    let t = this.leases.peek()?.at ?? null;
    const p = this.preemptions.peek()?.at;
    if (p !== undefined && (t === null || p < t)) t = p;
    // a rotation matters only while time-sliced holders run and something waits
    const rotation = this.nextRotation !== null && this.slices.size > 0 && (this.queue.size > 0 || this.suspendedCount > 0) ? this.nextRotation : null;
    if (rotation !== null && (t === null || rotation < t)) t = rotation;
    return t;
  }

  /**
   * Switch strategy: takes effect at once (a decision pass follows). Preemption notices already given stand;
   * allocations a time-slicing strategy suspended are resumed where they fit when the new one does not rotate them.
   */
  setStrategy(strategy: Strategy): Change[] {
    return this.transact(() => {
      const previous = this.strategy.name;
      const now = this.clock.now();
      this.strategy = strategy;
      this.applyStrategySettings();
      this.queue.setPriorityOf((r) => strategy.effectivePriority(r, this.context));
      this.emit({ kind: 'strategy_changed', at: now, strategy: strategy.name, previous, config: strategy.config });
      this.resumeUnsliced(now);
      this.dirty = true;
      this.forcePass = true;
      if (this.autoDecide) this.decidePass();
    }).changes;
  }

  /**
   * Resolve an open request conflict now with `strategy` (default: the current one), without switching to it:
   * re-place (the request fits now), rotate time slices (a time-slicing strategy and a request it rotates), or
   * preempt (its victims get their notice; the request is granted when the grace period ends — at once without
   * one). Throws invalid_state, saying why, when none of these applies.
   */
  resolveConflict(conflictId: string, strategy?: Strategy): { conflict: Conflict; action: 'granted' | 'rotated' | 'preempting'; resolvesAt?: number } {
    const c = this.book.get(conflictId);
    if (!c) throw new SchedulerError('not_found', `no conflict ${conflictId}`);
    if (c.status !== 'open') throw new SchedulerError('invalid_state', `conflict ${conflictId} is already resolved (${c.resolution ?? 'resolved'})`, { conflict: c });
    if (c.type === 'schedule_conflict' || c.requestId === null || !this.queue.has(c.requestId)) {
      throw new SchedulerError('invalid_state', `conflict ${conflictId} is about reality disagreeing with the ledger (${c.message}): stop the process or give it an allocation`, { conflict: c });
    }
    const s = strategy ?? this.strategy;
    const entry = this.queue.get(c.requestId)!;
    const r = entry.request;
    return this.transact(() => {
      const now = this.clock.now();
      const saved = this.strategy;
      this.strategy = s;
      try {
        if (this.cluster.knows(entry.shape) && this.cluster.fits(entry.shape)) {
          const p = s.place(r, this.context);
          if (p) {
            this.grant(r, p, now);
            return { conflict: this.book.get(conflictId)!, action: 'granted' as const };
          }
        }
        if (s.quantumMs !== null && s.sliced(r)) {
          this.rotate(now);
          this.nextRotation = saved.quantumMs === null ? null : now + saved.quantumMs;
          if (!this.queue.has(r.id)) return { conflict: this.book.get(conflictId)!, action: 'rotated' as const };
        }
        const plan = this.preemptFor.has(r.id) ? null : s.preempt(r, this.context);
        if (plan) {
          this.startPreemption(r, plan, now, s.graceMs);
          if (s.graceMs <= 0 && this.cluster.fits(entry.shape)) {
            const p = s.place(r, this.context);
            if (p) this.grant(r, p, now);
          }
          const after = this.book.get(conflictId)!;
          return after.status === 'open'
            ? { conflict: after, action: 'preempting' as const, resolvesAt: now + s.graceMs }
            : { conflict: after, action: 'granted' as const };
        }
      } finally {
        this.strategy = saved;
      }
      const why = this.preemptFor.has(r.id)
        ? 'holders are already under a preemption notice for it'
        : s.name === 'priority_based' || s.name === 'hybrid'
          ? 'no strictly lower-priority preemptible allocation would make room'
          : s.name === 'fair_sharing'
            ? 'fair-share preemption is off or the owner is not starved below half its share'
            : s.name === 'resource_pooling'
              ? 'no group borrows beyond its quota where the request would fit'
              : s.quantumMs !== null
                ? 'the rotation order keeps the current holders'
                : `${s.name} neither preempts nor rotates`;
      throw new SchedulerError('invalid_state', `${s.name} cannot resolve it now: ${c.message}; ${why}`, { conflict: c });
    }).value;
  }

  get strategyConfig(): Record<string, unknown> {
    return this.strategy.config;
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
        const shape = shapeOf(a.resources);
        const suspended = a.suspendedAt !== undefined;
        this.cluster.allocate(a.node, a.id, suspended ? cpuMemOnly(shape) : shape, suspended ? [] : a.gpuIndices, {
          requestId: a.requestId, owner: r?.owner ?? '', ...(r?.group !== undefined ? { group: r.group } : {}),
          priority: r?.priority ?? 0, preemptible: r?.preemptible ?? false, grantedAt: a.grantedAt,
        }, true);
        if (r && !suspended) this.usage.add(r.owner, r.group, this.amountOf(shape, a.node), a.grantedAt);
        this.addLease(a.id, a.leaseExpiresAt);
        if (r && this.strategy.sliced(r)) {
          this.slices.set(a.id, { attainedMs: 0, runningSince: suspended ? null : now, suspendedSince: suspended ? a.suspendedAt! : null, ranMs: 0 });
          if (suspended) this.suspendedIds.add(a.id);
        }
        if (a.preemptAt !== undefined) {
          const item: LeaseItem = { allocationId: a.id, at: a.preemptAt, heapIndex: -1 };
          this.preemptionOf.set(a.id, item); this.noticeEpoch++;
          this.preemptions.push(item);
          if (a.preemptedFor !== undefined) {
            const set = this.preemptFor.get(a.preemptedFor) ?? new Set<string>();
            set.add(a.id);
            this.preemptFor.set(a.preemptedFor, set);
          }
        }
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
    return this.cluster.free();
  }

  capacity(): { cpu: number | null; memoryMiB: number | null; gpus: number | null } {
    return this.cluster.capacity;
  }

  /** Node names, in order. */
  nodes(): string[] {
    return this.cluster.ledgers().map((l) => l.node);
  }

  /**
   * GPU fragmentation: the share of the free GPU capacity that is stranded on partly used GPUs (a GPU shared by
   * fractional allocations with room left counts its free MiB ÷ its MiB; a GPU free as a whole counts 1 and is not
   * stranded), over all nodes; null when nothing is free. 0: every free GPU is whole; near 1: what is free is
   * scattered in slivers no whole-GPU request can use.
   */
  fragmentation(): number | null {
    let free = 0;
    let stranded = 0;
    for (const l of this.cluster.ledgers()) {
      for (const g of l.slots()) {
        if (!g.present || !g.available) continue;
        if (l.isWholeFree(g)) {
          free += 1;
          continue;
        }
        const room = l.shareRoom(g);
        if (room > 0 && g.memoryMiB > 0) {
          free += room / g.memoryMiB;
          stranded += room / g.memoryMiB;
        }
      }
    }
    return free > 0 ? stranded / free : null;
  }

  /** Allocations suspended by time-slicing. */
  get suspendedCount(): number {
    return this.suspendedIds.size;
  }

  /** ids of the allocations suspended now (kept beside `slices`: passes and submits ask for the count) */
  private readonly suspendedIds = new Set<string>();

  get strategyName(): StrategyName {
    return this.strategy.name;
  }

  /** Why these resources can never fit the node (for a 422), or null. */
  neverFits(resources: Resources): string | null {
    return this.cluster.neverFits(shapeOf(resources));
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
      node: placement.node,
      gpuIndices: placement.gpuIndices,
      resources: request.resources,
      grantedAt: now,
      leaseExpiresAt: now + this.leaseFor(request.leaseMs),
      state: 'active',
    };
    const shape = shapeOf(request.resources);
    this.cluster.allocate(placement.node, allocation.id, shape, placement.gpuIndices, this.metaOf(request, now));
    this.usage.add(request.owner, request.group, this.amountOf(shape, placement.node), now);
    if (this.strategy.sliced(request)) this.slices.set(allocation.id, { attainedMs: 0, runningSince: now, suspendedSince: null, ranMs: 0 });
    this.allocations.set(allocation.id, allocation);
    this.addLease(allocation.id, allocation.leaseExpiresAt);
    const granted: Request = { ...request, status: 'granted', allocationId: allocation.id, updatedAt: now };
    this.requests.set(request.id, granted);
    this.emit({ kind: 'request_granted', at: now, request: granted });
    this.emit({ kind: 'allocation_granted', at: now, allocation });
    const entry = this.queue.remove(request.id);
    const preempted = this.preemptedFor.delete(request.id);
    this.withdrawPreemption(request.id, now);
    if (entry?.conflict) this.emit(this.book.resolve(entry.conflict.id, preempted ? 'preempted_holder' : 'granted', now));
  }

  private metaOf(r: Request, grantedAt: number) {
    return {
      requestId: r.id, owner: r.owner, ...(r.group !== undefined ? { group: r.group } : {}),
      priority: r.priority, preemptible: r.preemptible, grantedAt,
    };
  }

  /** What an allocation of `shape` on `node` counts for fair-share (GPU-equivalents: shares ÷ the GPU's MiB). */
  private amountOf(shape: Shape, node: string): Amount {
    let gpus = shape.whole;
    if (shape.fracMiB > 0) {
      const l = this.cluster.ledger(node);
      const largest = l ? l.slots().reduce((m, g) => Math.max(m, g.memoryMiB), 0) : 0;
      gpus += largest > 0 ? Math.min(1, shape.fracMiB / largest) : 0;
    }
    return { cpu: shape.cpu, memoryMiB: shape.memoryMiB, gpus };
  }

  /** The strategy's cluster-wide settings: time-slicing replicas, the rotation clock, fair-share half-life. */
  private applyStrategySettings(): void {
    this.cluster.setReplicas(this.strategy.replicas, this.strategy.multiSlot);
    const q = this.strategy.quantumMs;
    this.nextRotation = q === null ? null : this.clock.now() + q;
    const half = (this.strategy.config as { halfLifeMs?: unknown }).halfLifeMs;
    if (typeof half === 'number') this.usage.setHalfLife(half, this.clock.now());
  }

  private syncCapacity(): void {
    const c = this.cluster.capacity;
    this.usage.setCapacity({ cpu: c.cpu ?? 0, memoryMiB: c.memoryMiB ?? 0, gpus: c.gpus ?? 0 });
  }

  /** A sliced request does not take a slot that frees between rotations while suspended holders wait for it. */
  /**
   * The strategy's placement, except for a request it time-slices while holders are suspended: those wait to
   * resume on their own GPUs, so such a request goes only onto GPUs no suspended holder claims.
   */
  private placeFor(r: Request, shape: Shape, claims?: ReadonlySet<string>): Placement | null {
    if (this.strategy.quantumMs === null || !this.strategy.sliced(r) || this.suspendedCount === 0) return this.strategy.place(r, this.context);
    return this.placeUnclaimed(shape, claims ?? this.suspendedClaims());
  }

  /** `node:gpu` of every GPU a suspended holder waits to resume on. */
  private suspendedClaims(): Set<string> {
    const out = new Set<string>();
    for (const id of this.suspendedIds) {
      const a = this.allocations.get(id);
      if (a) for (const g of a.gpuIndices) out.add(`${a.node}:${g}`);
    }
    return out;
  }

  /** The first node (in order) with room for `shape` on GPUs outside `claims`, fewest holders first. */
  private placeUnclaimed(shape: Shape, claims: ReadonlySet<string>): Placement | null {
    for (const l of this.cluster.ledgers()) {
      if (!l.fits(shape)) continue;
      const need = shape.fracMiB > 0 ? 1 : shape.whole;
      if (need === 0) return { node: l.node, gpuIndices: [] };
      const room = l.slots()
        .filter((g) => !claims.has(`${l.node}:${g.index}`) && (shape.fracMiB > 0 ? l.shareRoom(g) >= shape.fracMiB : l.freeSlots(g) > 0))
        .sort((a, b) => l.freeSlots(b) - l.freeSlots(a) || a.index - b.index);
      if (room.length >= need) return { node: l.node, gpuIndices: room.slice(0, need).map((g) => g.index).sort((a, b) => a - b) };
    }
    return null;
  }

  // ------------------------------------------------------------------ preemption

  /** Give the victims notice (or take their resources now without a grace period). */
  private startPreemption(r: Request, plan: PreemptionPlan, now: number, grace = this.strategy.graceMs): void {
    const set = new Set<string>();
    this.preemptFor.set(r.id, set);
    for (const h of plan.victims) {
      const a = this.allocations.get(h.allocationId);
      if (!a || a.state !== 'active') continue;
      set.add(a.id);
      if (grace <= 0) {
        this.endAllocation(a, 'preempted', now);
        continue;
      }
      const noticed: Allocation = { ...a, preemptAt: now + grace, preemptedFor: r.id };
      this.allocations.set(a.id, noticed);
      const item: LeaseItem = { allocationId: a.id, at: now + grace, heapIndex: -1 };
      this.preemptionOf.set(a.id, item); this.noticeEpoch++;
      this.preemptions.push(item);
      this.emit({ kind: 'allocation_preempting', at: now, allocation: noticed });
    }
  }

  /** The request no longer needs its victims (granted, cancelled): notices not yet carried out are withdrawn. */
  private withdrawPreemption(requestId: string, now: number): void {
    const set = this.preemptFor.get(requestId);
    if (!set) return;
    this.preemptFor.delete(requestId);
    for (const id of set) {
      const item = this.preemptionOf.get(id);
      if (!item) continue;
      this.preemptions.remove(item);
      this.preemptionOf.delete(id); this.noticeEpoch++;
      const a = this.allocations.get(id);
      if (a?.state !== 'active') continue;
      const { preemptAt: _p, preemptedFor: _f, ...rest } = a;
      this.allocations.set(id, rest);
      this.emit({ kind: 'allocation_renewed', at: now, allocation: rest });
    }
  }

  // ------------------------------------------------------------------ time-slicing

  private attained(st: SliceState, gpus: number, now: number): number {
    return st.attainedMs + (st.runningSince === null ? 0 : gpus * (now - st.runningSince));
  }

  /** Resume on its own GPUs when they have room now; false when they do not. */
  private tryResume(a: Allocation, st: SliceState, now: number): boolean {
    if (!this.reclaim(a, st, now)) return false;
    st.suspendedSince = null;
    this.suspendedIds.delete(a.id);
    const { suspendedAt: _s, ...rest } = a;
    this.allocations.set(a.id, rest);
    this.emit({ kind: 'allocation_resumed', at: now, allocation: rest });
    return true;
  }

  /**
   * One rotation (Tiresias' discretised LAS): the time-sliced holders running, suspended or waiting are ranked by
   * the strategy (queue by attained service, anti-starvation promotion, then arrival); when a waiting one outranks
   * a running one, every running holder gives up its GPUs and the ranking takes them back greedily: the best-ranked
   * candidates that fit run (resumed on their own GPUs, or granted), the others are suspended or keep waiting.
   * Cost O(k log k) for k candidates, bounded by the GPU slots: waiting requests are taken oldest first only as
   * many as there are slots.
   */
  private rotate(now: number): void {
    const q = this.strategy.quantumMs;
    this.nextRotation = q === null ? null : now + q;
    if (q === null) return;
    // the waiting side first (suspended holders, then the oldest queued requests it rotates): its best rank
    // decides whether any running holder is at risk at all
    const waiting: { a?: Allocation; st?: SliceState; r: Request; rank: number }[] = [];
    let best = Infinity;
    let anyRunning = false;
    for (const [id, st] of this.slices) {
      if (st.runningSince !== null) {
        anyRunning = true;
        continue;
      }
      const a = this.allocations.get(id);
      const r = a && this.requests.get(a.requestId);
      if (!a || !r || a.state !== 'active') continue;
      const rank = this.sliceRankOf(a, r, st, now);
      waiting.push({ a, st, r, rank });
      if (rank < best) best = rank;
    }
    let slots = 0;
    for (const l of this.cluster.ledgers()) slots += (l.capacity.gpus ?? 0) * l.replicas;
    let taken = 0;
    for (const e of this.queue.entries()) {
      if (taken >= slots) break;
      const r = e.request;
      if (!this.strategy.sliced(r) || this.preemptFor.has(r.id)) continue;
      taken++;
      const rank = this.strategy.sliceRank({ request: r, attainedMs: 0, waitingSince: r.submittedAt, runMs: 0 }, now);
      waiting.push({ r, rank });
      if (rank < best) best = rank;
    }
    const resumeOnly = (): void => {
      // nothing to swap: in rank order, suspended holders resume where their GPUs have room, and waiting requests
      // take GPUs that no suspended holder ranked before them still waits for
      waiting.sort((x, y) => x.rank - y.rank || x.r.submittedAt - y.r.submittedAt || (x.r.id < y.r.id ? -1 : 1));
      const claims = new Map<string, number>();
      for (const w of waiting) if (w.a) for (const g of w.a.gpuIndices) claims.set(`${w.a.node}:${g}`, Math.min(claims.get(`${w.a.node}:${g}`) ?? Infinity, w.rank));
      for (const w of waiting) {
        if (w.a && w.st) {
          if (this.tryResume(w.a, w.st, now)) for (const g of w.a.gpuIndices) claims.delete(`${w.a.node}:${g}`);
          continue;
        }
        if (!this.queue.has(w.r.id)) continue;
        const shape = shapeOf(w.r.resources);
        if (!this.cluster.fits(shape)) continue;
        const better = new Set<string>();
        for (const [k, rank] of claims) if (rank < w.rank) better.add(k);
        const p = this.placeUnclaimed(shape, better);
        if (p) this.grant(w.r, p, now);
      }
    };
    if (!waiting.length) return;
    if (!anyRunning) return resumeOnly();
    // running holders ranked before every waiting candidate keep their GPUs untouched (the greedy pass would give
    // them back at once); only those at risk take part
    const running: { a: Allocation; st: SliceState; rank: number }[] = [];
    for (const [id, st] of this.slices) {
      if (st.runningSince === null) continue;
      const a = this.allocations.get(id);
      const r = a && this.requests.get(a.requestId);
      if (!a || !r || a.state !== 'active') continue;
      const rank = this.sliceRankOf(a, r, st, now);
      if (rank > best) running.push({ a, st, rank });
    }
    if (!running.length) return resumeOnly();
    // which GPUs better-ranked holders will want back: a new request takes GPUs no holder claims, or those of the
    // worst-ranked holders, so it does not push out a holder ranked above one that keeps running
    const claim = new Map<string, number>();
    for (const x of [...running, ...waiting]) {
      if (!x.a) continue;
      for (const g of x.a.gpuIndices) {
        const k = `${x.a.node}:${g}`;
        claim.set(k, Math.min(claim.get(k) ?? Infinity, x.rank));
      }
    }
    // every running holder gives its GPUs back (keeps cpu/memory), then the ranking takes them
    const wasRunning = new Set<string>();
    for (const x of running) {
      wasRunning.add(x.a.id);
      const st = x.st;
      const gpus = Math.max(1, x.a.gpuIndices.length);
      st.attainedMs += gpus * (now - st.runningSince!);
      st.ranMs += now - st.runningSince!;
      st.runningSince = null;
      const r = this.requests.get(x.a.requestId) ?? placeholderRequest(x.a);
      const shape = shapeOf(x.a.resources);
      this.cluster.release(x.a.id);
      this.cluster.allocate(x.a.node, x.a.id, cpuMemOnly(shape), [], this.metaOf(r, x.a.grantedAt), true);
      this.usage.remove(r.owner, r.group, this.amountOf(shape, x.a.node), now);
    }
    const all = [...running.map((x) => ({ a: x.a as Allocation | undefined, st: x.st as SliceState | undefined, r: this.requests.get(x.a.requestId)!, rank: x.rank })), ...waiting]
      .sort((x, y) => x.rank - y.rank || x.r.submittedAt - y.r.submittedAt || (x.r.id < y.r.id ? -1 : 1));
    for (const c of all) {
      if (c.a && c.st) {
        if (wasRunning.has(c.a.id)) {
          // back on its GPUs quietly when they have room, else suspended now
          if (this.reclaim(c.a, c.st, now)) continue;
          c.st.suspendedSince = now;
          this.suspendedIds.add(c.a.id);
          const next: Allocation = { ...c.a, suspendedAt: now };
          this.allocations.set(c.a.id, next);
          this.emit({ kind: 'allocation_suspended', at: now, allocation: next });
        } else {
          this.tryResume(c.a, c.st, now);
        }
      } else if (this.queue.has(c.r.id)) {
        const shape = shapeOf(c.r.resources);
        if (!this.cluster.fits(shape)) continue;
        const p = this.placeAvoidingClaims(shape, claim);
        if (p) this.grant(c.r, p, now);
      }
    }
    this.dirty = true;
  }

  /**
   * Rotation placement of a waiting request: on each node the GPUs with room ordered by the rank of the holder that
   * claims them (unclaimed first, then the worst-ranked claims); the node whose chosen GPUs have the best worst claim.
   */
  private placeAvoidingClaims(shape: Shape, claim: ReadonlyMap<string, number>): Placement | null {
    let best: Placement | null = null;
    let bestKey = -Infinity;
    for (const l of this.cluster.ledgers()) {
      if (!l.fits(shape)) continue;
      const need = shape.fracMiB > 0 ? 1 : shape.whole;
      if (need === 0) return { node: l.node, gpuIndices: [] };
      const room = l.slots()
        .filter((g) => (shape.fracMiB > 0 ? l.shareRoom(g) >= shape.fracMiB : l.freeSlots(g) > 0))
        .map((g) => ({ g, rank: claim.get(`${l.node}:${g.index}`) ?? Infinity }))
        .sort((a, b) => b.rank - a.rank || a.g.index - b.g.index);
      if (room.length < need) continue;
      const chosen = room.slice(0, need);
      const key = chosen[need - 1]!.rank;
      if (key > bestKey) {
        bestKey = key;
        best = { node: l.node, gpuIndices: chosen.map((x) => x.g.index).sort((a, b) => a - b) };
      }
    }
    return best;
  }

  private readonly rankScratch: SliceCandidate = { request: null as unknown as Request, attainedMs: 0, waitingSince: null, runMs: 0 };

  /** The strategy's rotation rank of a time-sliced allocation (one scratch candidate: rotations rank many). */
  private sliceRankOf(a: Allocation, r: Request, st: SliceState, now: number): number {
    const c = this.rankScratch;
    c.request = r;
    c.allocationId = a.id;
    c.attainedMs = this.attained(st, Math.max(1, a.gpuIndices.length), now);
    c.waitingSince = st.suspendedSince;
    c.runMs = st.ranMs + (st.runningSince === null ? 0 : now - st.runningSince);
    return this.strategy.sliceRank(c, now);
  }

  /**
   * A holder without its GPUs (suspended, or giving them back in this rotation) takes them again when they have
   * room; no record (tryResume adds the resume).
   */
  private reclaim(a: Allocation, st: SliceState, now: number): boolean {
    const l = this.cluster.ledger(a.node);
    if (!l) return false;
    const shape = shapeOf(a.resources);
    for (const i of new Set(a.gpuIndices)) {
      const g = l.slots().find((x) => x.index === i);
      const ok = g && (shape.fracMiB > 0 ? l.shareRoom(g) >= shape.fracMiB : l.freeSlots(g) >= a.gpuIndices.filter((x) => x === i).length);
      if (!ok) return false;
    }
    const r = this.requests.get(a.requestId) ?? placeholderRequest(a);
    this.cluster.release(a.id);
    this.cluster.allocate(a.node, a.id, shape, a.gpuIndices, this.metaOf(r, a.grantedAt), true);
    this.usage.add(r.owner, r.group, this.amountOf(shape, a.node), now);
    st.runningSince = now;
    return true;
  }

  /** After a switch to a strategy that does not rotate: suspended allocations resume where they fit. */
  private resumeUnsliced(now: number): void {
    for (const [id, st] of [...this.slices]) {
      const a = this.allocations.get(id);
      const r = a && this.requests.get(a.requestId);
      if (!a || a.state !== 'active') {
        this.slices.delete(id);
        this.suspendedIds.delete(id);
        continue;
      }
      if (r && this.strategy.sliced(r)) continue;
      if (st.suspendedSince !== null && !this.tryResume(a, st, now)) continue;
      this.slices.delete(id);
    }
  }

  private enqueue(request: Request, now: number, announce = true): void {
    const e = this.queue.insert(request, null, this.cluster.version);
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
    this.cluster.release(a.id);
    const item = this.leaseOf.get(a.id);
    if (item) {
      this.leases.remove(item);
      this.leaseOf.delete(a.id);
    }
    const notice = this.preemptionOf.get(a.id);
    if (notice) {
      this.preemptions.remove(notice);
      this.preemptionOf.delete(a.id); this.noticeEpoch++;
    }
    const st = this.slices.get(a.id);
    this.slices.delete(a.id);
    this.suspendedIds.delete(a.id);
    const owner = this.requests.get(a.requestId);
    if (owner && (!st || st.suspendedSince === null)) this.usage.remove(owner.owner, owner.group, this.amountOf(shapeOf(a.resources), a.node), now);
    if (state === 'preempted') {
      const forId = a.preemptedFor ?? [...this.preemptFor].find(([, set]) => set.has(a.id))?.[0];
      if (forId !== undefined && this.queue.has(forId)) this.preemptedFor.add(forId);
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
    const now = this.clock.now();
    if (this.strategy.quantumMs === null && this.slices.size) this.resumeUnsliced(now);
    if (!this.queue.size) return;
    if (!this.forcePass && this.passVersion === this.cluster.version) {
      if (this.refreshPending) this.refreshConflicts(now, this.queue.requests());
      return;
    }
    this.forcePass = false;
    const floor = this.preemptFloor();
    const canPreempt = floor !== null;
    // the waiting shapes (shape and priority) that fit somewhere now: the order is walked only while one of them
    // (or a preemption attempt) is left — with thousands waiting on a full cluster a pass stops early. A grant only
    // takes capacity, so a shape that did not fit stays out for the rest of the pass.
    const fitting = new Map<string, Shape>();
    for (const [key, shape] of this.queue.shapeEntries()) {
      if (this.cluster.knows(shape) && this.cluster.fits(shape)) fitting.set(key, shape);
    }
    const noVictims = new Set<string>();
    // shape keys whose priority is above the floor: the only ones preemption can be tried for
    let preemptKeys = 0;
    if (canPreempt) for (const p of this.queue.shapePriorities()) if (p > floor!) preemptKeys++;
    const seen: Request[] = [];
    let walked = 0;
    let attempts = canPreempt ? PREEMPT_ATTEMPTS_PER_PASS : 0;
    // while holders are suspended, time-sliced requests go only onto GPUs none of them waits for (placeFor)
    const claims = this.strategy.quantumMs !== null && this.suspendedCount > 0 ? this.suspendedClaims() : undefined;
    if (this.strategy.among && fitting.size) {
      // grants: only the requests of shapes that fit, in the strategy's order (every one of them is tried)
      const keys = new Set(fitting.keys());
      for (const r of this.strategy.among(this.queue, this.context, keys)) {
        seen.push(r);
        const e = this.queue.get(r.id);
        if (!e || !keys.has(e.shapeKey)) continue;
        const placement = this.placeFor(e.request, e.shape, claims);
        if (!placement) continue;
        this.grant(e.request, placement, now);
        this.keepFitting(fitting, keys);
        if (!keys.size) break;
      }
      fitting.clear();
    }
    const it = this.strategy.order(this.queue, this.context)[Symbol.iterator]();
    for (let step = it.next(); !step.done; step = it.next()) {
      const r = step.value;
      seen.push(r);
      const e = this.queue.get(r.id);
      if (!e) continue;
      if (fitting.has(e.shapeKey)) {
        const placement = this.placeFor(e.request, e.shape, claims);
        if (placement) {
          this.grant(e.request, placement, now);
          this.keepFitting(fitting);
        }
      } else if (attempts > 0 && r.priority > floor! && this.cluster.knows(e.shape) && !this.preemptFor.has(r.id) && !noVictims.has(e.shapeKey)) {
        attempts--;
        const plan = this.strategy.preempt(e.request, this.context);
        // one attempt per shape and pass (kube-scheduler preempts for one pod per cycle)
        noVictims.add(e.shapeKey);
        if (plan) {
          this.startPreemption(e.request, plan, now);
          if (this.strategy.graceMs <= 0 && this.cluster.fits(e.shape)) {
            const placement = this.strategy.place(e.request, this.context);
            if (placement) this.grant(e.request, placement, now);
            this.keepFitting(fitting);
          }
        }
      }
      // nothing fits and no preemption attempt is left to make (spent, every shape above the floor tried, or the
      // walk has gone PREEMPT_SCAN deep)
      if (!fitting.size && (attempts <= 0 || noVictims.size >= preemptKeys || ++walked >= PREEMPT_SCAN)) break;
    }
    this.passVersion = this.cluster.version;
    // conflicts: the requests walked, then on along the same order (the refresh's own scan limit bounds it)
    this.refreshConflicts(now, concat(seen, { [Symbol.iterator]: () => it }));
  }

  /** After a grant: the shapes that no longer fit anywhere leave `fitting` (and `keys`). */
  private keepFitting(fitting: Map<string, Shape>, keys?: Set<string>): void {
    for (const [key, shape] of fitting) {
      if (this.cluster.fits(shape)) continue;
      fitting.delete(key);
      keys?.delete(key);
    }
  }

  /** Some active allocation could be a victim (preemptible, or the strategy preempts by share or quota). */
  private hasPreemptionCandidates(): boolean {
    return this.preemptFloor() !== null;
  }

  /**
   * Requests of a priority above this may find victims (Strategy.preempts): for `lower_priority` the lowest
   * priority of a preemptible allocation not under notice (null: none); -Infinity for `any`; null for `none`.
   */
  private preemptFloor(): number | null {
    if (this.strategy.preempts === 'any') return -Infinity;
    if (this.strategy.preempts === 'none') return null;
    let floor: number | null = null;
    for (const h of this.cluster.holdings()) {
      if (h.preemptible && !this.preemptionOf.has(h.allocationId) && (floor === null || h.priority < floor)) floor = h.priority;
    }
    return floor;
  }

  /**
   * Re-evaluate the conflicts of waiting requests (in the given order) whose evaluation predates the ledger's
   * state. Requests of the same shape and priority share one evaluation. Stops when the refresh budget is spent
   * (refreshPending: the next tick goes on).
   */
  private refreshConflicts(now: number, order: Iterable<Request>): void {
    const version = this.cluster.version;
    let budget = this.refreshBudget;
    // entries looked at: with thousands waiting and the cluster changing every pass, the tail is left to later
    // passes and ticks (severities are refreshed for all each tick)
    let scan = this.refreshBudget * REFRESH_SCAN_PER_BUDGET;
    this.refreshPending = false;
    for (const r of order) {
      const e = this.queue.get(r.id);
      if (!e || e.evaluatedAt === version) continue;
      if (--scan < 0) {
        this.refreshPending = true;
        break;
      }
      if (!this.cluster.knows(e.shape)) continue; // keep what was known (e.g. restored) until the capacity is
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
    if (this.evalVersion !== this.cluster.version) {
      if (this.evalCache.size) this.prevEvalCache = this.evalCache;
      this.evalCache = new Map();
      this.evalVersion = this.cluster.version;
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
    return requestSeverity({ priority: r.priority, waitMs: now - r.submittedAt, share: this.shareOf(shape) }, this.severityCfg);
  }

  /** A shape's dominant share of the cluster, cached (per shape object: a queue entry keeps its own) while the capacity stays the same. */
  private shareOf(shape: Shape): number {
    const epoch = this.cluster.capacityEpoch;
    if (epoch !== this.shareEpoch) {
      this.shareEpoch = epoch;
      this.shareCache = new WeakMap();
    }
    let v = this.shareCache.get(shape);
    if (v === undefined) this.shareCache.set(shape, (v = this.cluster.dominantShare(shape)));
    return v;
  }

  private shareEpoch = -1;
  private shareCache = new WeakMap<Shape, number>();

  /** One holder object per holding, so that equal holder lists compare by identity. */
  private readonly holderObjects = new WeakMap<Holding, ConflictHolder>();

  private holderOf(h: Holding): ConflictHolder {
    let o = this.holderObjects.get(h);
    if (!o) this.holderObjects.set(h, (o = allocationHolder(h)));
    return o;
  }

  private evaluate(shape: Shape, priority: number): Evaluation {
    return evaluateWait(this.cluster, shape, priority, this.strategy.name, (h) => this.holderOf(h));
  }

  /**
   * schedule_conflicts from the GPUs' users: one per GPU with users no allocation accounts for
   * (`unmanaged:gpu:<i>`), one per ended allocation whose processes still run (`lease:<allocationId>`);
   * resolved `cleared` when reality agrees with the ledger again.
   */
  private syncScheduleConflicts(now: number): void {
    const want = new Map<string, ScheduleConflictWant>();
    for (const l of this.cluster.ledgers()) {
      if (!l.hasForeign) continue;
      for (const [k, v] of scheduleConflicts(l, (id) => this.allocations.get(id))) want.set(k, v);
    }
    if (!want.size && !this.scheduleKeys.size) return;
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

function* concat<T>(a: Iterable<T>, b: Iterable<T>): Generator<T> {
  yield* a;
  yield* b;
}

/** The cpu and memory of a shape, without its GPUs (what a suspended holder keeps). */
function cpuMemOnly(shape: Shape): Shape {
  return { cpu: shape.cpu, memoryMiB: shape.memoryMiB, whole: 0, fracMiB: 0 };
}

/** A stand-in for an allocation whose request the engine no longer keeps. */
function placeholderRequest(a: Allocation): Request {
  return { id: a.requestId, owner: '', priority: 0, resources: a.resources, preemptible: false, submittedAt: a.grantedAt, updatedAt: a.grantedAt, status: 'granted' };
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
