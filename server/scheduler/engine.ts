/**
 * The scheduler engine: a state machine over requests, allocations and conflicts (no I/O; time from the injected
 * Clock, ids from the injected generator). Every public operation is one transaction (ChangeBatch): its changes go to
 * the listeners as one batch, in order, so the layers above persist them in one SQLite transaction and push them.
 * Errors are SchedulerError with a code the HTTP boundary maps (SCHEDULER_ERROR_STATUS).
 *
 * The engine coordinates; its collaborators own their state:
 * - Records (records.ts): requests, allocations, idempotency keys, retention of ended ones;
 * - Booking (booking.ts): how an allocation begins and ends; Leases (leases.ts): lease ends;
 * - Preemption (preemption.ts): notices, grace periods, whom they are for;
 * - Slicing (slicing.ts): time-slice bookkeeping and the rotation;
 * - RequestConflicts / ScheduleConflicts: the conflicts of waiting requests (cached evaluations, severities) and of
 *   reality disagreeing with the ledger;
 * - DecisionPass (pass.ts): grant in the strategy's order, one preemption attempt, conflict refresh.
 * Mutations that free or change capacity (release, expiry, snapshot, strategy switch, a node's reachability) run a
 * decision pass in the same batch (`autoDecide`, default on). The cluster has the server's own node (the home node)
 * plus those of its agents, and many in the simulator; a node that cannot be reached keeps its allocations (nodes.ts).
 */
import type { Allocation, Change, Conflict, QueueOrder, Request, RequestInputBody, RequestStatus, Resources, StrategyName } from '../../shared/scheduler.ts';
import { assemble, type EngineOptions } from './assemble.ts';
import type { ChangeListener } from './changes.ts';
import type { Core, EngineParts } from './core.ts';
import { SchedulerError } from './errors.ts';
import type { Inventory } from './inventory.ts';
import { requestShape, shapeOf, type FreeView } from './ledger.ts';
import { nodeView, type NodeView } from './node-views.ts';
import { followCapacity, markReachable, removeNode, requireNode, setReachable } from './nodes.ts';
import { requestFields } from './records.ts';
import { resolveConflict, type Resolution } from './resolve.ts';
import { restoreState, type EngineState } from './restore.ts';
import type { Strategy } from './strategy.ts';
import { advance, expireDue, heldBack, nextWakeup, tick } from './timed.ts';

export { SchedulerError } from './errors.ts';
export type { EngineOptions } from './assemble.ts';
export type { ChangeListener } from './changes.ts';
export type { LeaseOptions } from './leases.ts';
export type { NodeState } from './ledger.ts';
export type { NodeView } from './node-views.ts';
export type { EngineState } from './restore.ts';

export interface SubmitResult {
  request: Request;
  /** when granted */
  allocation?: Allocation;
  /** when waiting: its open conflict */
  conflict?: Conflict;
  /** true when an earlier submit with the same idempotency key made this request (its current state is returned) */
  replayed: boolean;
}

/** What the read routes ask of the scheduler: the engine on the leader, a replica's read model on a follower. */
export type SchedulerReads = Pick<SchedulerEngine, 'request' | 'listAllocations' | 'listQueue' | 'openConflicts' | 'conflicts' | 'conflict'>;

export class SchedulerEngine {
  private readonly core: Core;
  private readonly parts: EngineParts;
  private readonly autoDecide: boolean;
  private readonly maxWaitingPerOwner: number;

  constructor(opts: EngineOptions) {
    this.parts = assemble(opts);
    this.core = this.parts.core;
    this.autoDecide = opts.autoDecide ?? true;
    this.maxWaitingPerOwner = opts.maxWaitingPerOwner ?? 0;
    this.applyStrategySettings();
  }

  /** Every batch of changes, in order; returns the unsubscribe function. */
  onChange(listener: ChangeListener): () => void {
    return this.core.changes.onChange(listener);
  }

  private transact<T>(fn: () => T): { value: T; changes: Change[] } {
    return this.core.changes.transact(fn);
  }

  // ------------------------------------------------------------------ commands

  /**
   * Submit a request (a body validated at the edge against RequestInputSchema). Granted at once when it fits (and
   * nothing freed since the last decision is still to be handed out), else queued with an open conflict. With an
   * idempotency key, a retry returns the request the first submit made, in its current state (`replayed: true`); the
   * same key with another body is `idempotency_conflict`. Throws never_fits (more than any node has; with `node`: more
   * than that node has, or no such node; with `gpuModels`: more than the GPUs of those models have).
   */
  submit(input: RequestInputBody, opts: { idempotencyKey?: string } = {}): SubmitResult {
    const { records, cluster } = this.core;
    const { slicing, booking, requestConflicts, preemption, pass } = this.parts;
    const fields = requestFields(input);
    const key = opts.idempotencyKey;
    if (key !== undefined) {
      const prev = records.idempotent(key, fields);
      if (prev) return { ...this.resultOf(prev), replayed: true };
    }
    const shape = requestShape(fields);
    const reason = cluster.neverFits(shape);
    const { node, gpuModels } = fields;
    if (reason) throw new SchedulerError('never_fits', reason, { resources: fields.resources, capacity: cluster.capacity, ...(node !== undefined ? { node } : {}), ...(gpuModels ? { gpuModels } : {}) });
    const waiting = this.core.queue.waitingOf(fields.owner);
    if (this.maxWaitingPerOwner > 0 && waiting >= this.maxWaitingPerOwner) {
      throw new SchedulerError('too_many_waiting', `${fields.owner} has ${waiting} requests waiting, the most one owner may have (--max-waiting-per-owner); cancel one or wait for one to be granted`, { owner: fields.owner, waiting, limit: this.maxWaitingPerOwner });
    }

    return this.transact(() => {
      if (this.core.dirty && this.autoDecide) pass.run();
      const now = this.core.clock.now();
      const request: Request = {
        id: this.core.newId(), ...fields, submittedAt: now, updatedAt: now, status: 'queued',
        ...(key !== undefined ? { idempotencyKey: key } : {}),
      };
      records.add(request);
      // a sliced request waits its turn while others wait for the rotation (no jumping the queue)
      const placement = cluster.knows(shape) && cluster.fits(shape) ? slicing.placeFor(request, shape) : null;
      if (placement) booking.grant(request, placement, now);
      else {
        requestConflicts.enqueue(request, now);
        // the next tick (or simulator step) runs a pass that may preempt for it
        if (cluster.knows(shape) && !cluster.fits(shape)) preemption.check = true;
      }
      return { ...this.resultOf(records.requests.get(request.id)!), replayed: false };
    }).value;
  }

  /** Cancel a waiting request. Cancelling a cancelled request returns it; a granted one is invalid_state (release its allocation). */
  cancel(requestId: string): Request {
    const { records, queue, book, changes } = this.core;
    const r = records.requests.get(requestId);
    if (!r) throw new SchedulerError('not_found', `no request ${requestId}`);
    if (r.status === 'cancelled') return r;
    if (r.status !== 'queued') {
      const hint = r.status === 'granted' ? `; release allocation ${r.allocationId} instead` : '';
      throw new SchedulerError('invalid_state', `request ${requestId} is ${r.status}, not queued${hint}`, { status: r.status });
    }
    return this.transact(() => {
      const now = this.core.clock.now();
      const entry = queue.remove(requestId);
      if (entry?.conflict) changes.emit(book.resolve(entry.conflict.id, 'cancelled', now));
      this.parts.preemption.withdraw(requestId, now);
      const next: Request = { ...r, status: 'cancelled', updatedAt: now };
      records.requests.set(requestId, next);
      this.parts.preemption.settled(requestId);
      changes.emit({ kind: 'request_cancelled', at: now, request: next });
      records.markEnded(requestId);
      // the node set aside for it takes what waits
      if (this.parts.pass.reservation.has(requestId) && this.autoDecide) this.parts.pass.run();
      return next;
    }).value;
  }

  /** Release an active allocation (its request becomes `released`); releasing a released one returns it. */
  release(allocationId: string): Allocation {
    const a = this.core.records.requireAllocation(allocationId);
    if (a.state === 'released') return a;
    if (a.state !== 'active') throw new SchedulerError('invalid_state', `allocation ${allocationId} is ${a.state}`, { state: a.state });
    return this.transact(() => {
      const now = this.core.clock.now();
      this.parts.booking.end(a, 'released', now);
      this.parts.scheduleConflicts.sync(now);
      if (this.autoDecide) this.parts.pass.run();
      return this.core.records.allocations.get(allocationId)!;
    }).value;
  }

  /**
   * Heartbeat: the lease runs `leaseMs` (validated at the edge; else the request's lease, else the default) from now,
   * cut to the maximum. A lease already past its end is expired here and the call fails with invalid_state.
   */
  renew(allocationId: string, leaseMs?: number): Allocation {
    const { records, changes } = this.core;
    const a = records.requireAllocation(allocationId);
    if (a.state !== 'active') throw new SchedulerError('invalid_state', `allocation ${allocationId} is ${a.state}`, { state: a.state });
    const now = this.core.clock.now();
    // a lease that ran out while its node cannot be reached is held, not ended: it may be renewed
    if (now >= a.leaseExpiresAt && !heldBack(this.core, a)) {
      this.expireLeases();
      throw new SchedulerError('invalid_state', `the lease of allocation ${allocationId} expired at ${new Date(a.leaseExpiresAt).toISOString()}`, { state: 'expired' });
    }
    return this.transact(() => {
      const leases = this.parts.leases;
      const request = records.requests.get(a.requestId);
      const next: Allocation = { ...a, leaseExpiresAt: now + leases.lengthFor(leaseMs ?? request?.leaseMs) };
      records.allocations.set(a.id, next);
      leases.move(a.id, next.leaseExpiresAt);
      changes.emit({ kind: 'allocation_renewed', at: now, allocation: next });
      return next;
    }).value;
  }

  /**
   * Expire every lease that ended by now (allocation and request `expired`) and carry out due preemptions, then let
   * the queue move. A lease of an allocation whose node is unreachable is held until the node is reachable again.
   */
  expireLeases(): Change[] {
    return this.transact(() => expireDue(this.parts, this.autoDecide)).changes;
  }

  /**
   * A node's capacity and GPU users changed (a new snapshot; a node not known yet joins): schedule_conflicts follow,
   * then a decision pass. A node pending since a restart becomes reachable; an unreachable one stays so
   * (setNodeReachable).
   */
  onSnapshot(inventory: Inventory): Change[] {
    return this.transact(() => {
      const core = this.core;
      const before = core.cluster.version;
      const was = core.cluster.setInventory(inventory);
      if (was === 'pending') {
        // it reported: flags restored from before the restart clear, and lease ends held meanwhile take effect
        markReachable(this.parts, core.cluster.ledger(inventory.node)!, core.clock.now());
        expireDue(this.parts, false);
      }
      followCapacity(core);
      this.parts.scheduleConflicts.sync(core.clock.now(), inventory.node);
      if (core.cluster.version !== before) core.dirty = true;
      if (core.strategy.usesUtilisation && core.queue.size) {
        core.dirty = true;
        this.parts.pass.force = true;
      }
      if (core.dirty && this.autoDecide) this.parts.pass.run();
    }).changes;
  }

  /**
   * The node stopped reporting (`reachable` false) or reports again (true), as the caller (the node registry) says.
   * Unreachable: its allocations are kept and flagged (`allocation_flagged`, unreachableSince), their lease ends held
   * and preemption notices withdrawn, nothing is placed there, `unreachable:<node>` opens. Reachable: the flags clear,
   * held lease ends take effect when due, the conflict clears and the node's latest inventory is reconciled with the
   * ledger (`missing:…`, `overcommit:…`). A decision pass follows. Throws not_found for a node the engine does not know.
   */
  setNodeReachable(node: string, reachable: boolean): Change[] {
    const l = requireNode(this.core, node);
    return this.transact(() => setReachable(this.parts, l, reachable, this.autoDecide)).changes;
  }

  /**
   * Forget a node (decommissioned): its schedule_conflicts clear. Refused (invalid_state) while it holds allocations,
   * and for the only node; not_found for a node the engine does not know.
   */
  removeNode(node: string): Change[] {
    return this.transact(() => removeNode(this.parts, node, this.autoDecide)).changes;
  }

  /**
   * A decision pass: grant what fits in the strategy's order, then re-evaluate the conflicts of what still waits.
   * When the ledger has not changed since the last pass (and no strategy switch or restore happened), nothing new
   * can fit and the placement part is skipped, unless `force`.
   */
  decide(opts: { force?: boolean } = {}): Change[] {
    if (opts.force) this.parts.pass.force = true;
    return this.transact(() => this.parts.pass.run()).changes;
  }

  /**
   * Periodic work (e.g. each second): expire leases and preemption deadlines, rotate time slices when a quantum
   * is over, grow severities with waiting, decide if anything changed.
   */
  tick(): Change[] {
    return this.transact(() => tick(this.parts, this.autoDecide)).changes;
  }

  /**
   * The simulator's step: leases and preemption deadlines due by now, a rotation when due, and a decision pass
   * when something changed — without the per-second severity refresh of `tick`.
   */
  advance(): Change[] {
    return this.transact(() => advance(this.parts, this.autoDecide)).changes;
  }

  /** When the engine next has timed work (a lease end, a preemption deadline, a rotation, a starvation bound), or null. */
  nextWakeup(): number | null {
    return nextWakeup(this.parts);
  }

  /**
   * Switch strategy: takes effect at once (a decision pass follows). Preemption notices already given stand;
   * allocations a time-slicing strategy suspended are resumed where they fit when the new one does not rotate them.
   */
  setStrategy(strategy: Strategy): Change[] {
    return this.transact(() => {
      const core = this.core;
      const previous = core.strategy.name;
      const now = core.clock.now();
      core.strategy = strategy;
      this.applyStrategySettings();
      core.queue.setPriorityOf((r) => strategy.effectivePriority(r, core.context));
      core.changes.emit({ kind: 'strategy_changed', at: now, strategy: strategy.name, previous, config: strategy.config });
      this.parts.slicing.resumeUnsliced(now);
      core.dirty = true;
      this.parts.pass.force = true;
      if (this.autoDecide) this.parts.pass.run();
    }).changes;
  }

  /**
   * Resolve an open request conflict now with `strategy` (default: the current one), without switching to it
   * (resolve.ts). Throws invalid_state, saying why, when it cannot.
   */
  resolveConflict(conflictId: string, strategy?: Strategy): Resolution {
    return resolveConflict(this.parts, conflictId, strategy);
  }

  /**
   * Rebuild from the store (into an empty engine, restore.ts); leases that ended while the server was down expire
   * now. Returns (and emits) what changed while restoring.
   */
  restore(state: EngineState): Change[] {
    if (!this.core.records.isEmpty || this.core.book.openCount) throw new Error('restore needs an empty engine');
    return this.transact(() => {
      restoreState(this.parts, state, this.core.clock.now());
      this.expireLeases();
    }).changes;
  }

  // ------------------------------------------------------------------ queries

  request(id: string): Request | undefined {
    return this.core.records.requests.get(id);
  }

  allocation(id: string): Allocation | undefined {
    return this.core.records.allocations.get(id);
  }

  conflict(id: string): Conflict | undefined {
    return this.core.book.get(id);
  }

  /** Requests kept in memory (all waiting and granted ones, the latest ended ones), optionally by status. */
  listRequests(status?: RequestStatus): Request[] {
    return this.core.records.listRequests(status);
  }

  listAllocations(state?: Allocation['state']): Allocation[] {
    return this.core.records.listAllocations(state);
  }

  openConflicts(): Conflict[] {
    return [...this.core.book.openConflicts()];
  }

  /** Conflicts kept in memory, open and resolved, oldest first. */
  conflicts(): Conflict[] {
    return [...this.core.book.all()];
  }

  /** A page of the queue (see ConflictQueue.list for the cost). */
  listQueue(order: QueueOrder, limit: number, offset = 0): { total: number; items: { request: Request; conflict: Conflict | null }[] } {
    const { total, items } = this.core.queue.list(order, limit, offset);
    return { total, items: items.map((e) => ({ request: e.request, conflict: e.conflict })) };
  }

  get queueSize(): number {
    return this.core.queue.size;
  }

  /** What is free on `node` (not_found when unknown), by default on the home node (the machine the server runs on). */
  free(node?: string): FreeView {
    const f = this.core.cluster.free(node);
    if (!f) throw new SchedulerError('not_found', `no node ${node}`, { node });
    return f;
  }

  capacity(): { cpu: number | null; memoryMiB: number | null; gpus: number | null } {
    return this.core.cluster.capacity;
  }

  /** Node names, in order (the home node first unless a restore named another before it reported). */
  nodes(): string[] {
    return this.core.cluster.ledgers().map((l) => l.node);
  }

  /** Every node: its state (reachable, unreachable, pending), capacity and what its allocations hold. */
  nodeViews(): NodeView[] {
    const { cluster } = this.core;
    return cluster.ledgers().map((l) => nodeView(l, cluster.unreachableSince(l.node)));
  }

  /** GPU fragmentation over all nodes (Cluster.fragmentation). */
  fragmentation(): number | null {
    return this.core.cluster.fragmentation();
  }

  /** Allocations suspended by time-slicing. */
  get suspendedCount(): number {
    return this.parts.slicing.suspendedCount;
  }

  get strategyName(): StrategyName {
    return this.core.strategy.name;
  }

  get strategyConfig(): Record<string, unknown> {
    return this.core.strategy.config;
  }

  /** Why these resources can never fit any node, or `node` when given, on GPUs of `gpuModels` when given (for a 422), or null. */
  neverFits(resources: Resources, node?: string, gpuModels?: readonly string[]): string | null {
    return this.core.cluster.neverFits(shapeOf(resources, node, gpuModels));
  }

  /** When the next lease ends (schedule `expireLeases`/`tick` for then), or null. */
  nextLeaseExpiry(): number | null {
    return this.parts.leases.next;
  }

  // ------------------------------------------------------------------ internals

  private resultOf(r: Request): Omit<SubmitResult, 'replayed'> {
    if (r.status === 'queued') {
      const c = this.core.queue.get(r.id)?.conflict;
      return c ? { request: r, conflict: c } : { request: r };
    }
    const a = r.allocationId === undefined ? undefined : this.core.records.allocations.get(r.allocationId);
    return a ? { request: r, allocation: a } : { request: r };
  }

  /** The strategy's cluster-wide settings: time-slicing replicas, the rotation clock, fair-share half-life. */
  private applyStrategySettings(): void {
    const { cluster, strategy, usage, clock } = this.core;
    cluster.setReplicas(strategy.replicas, strategy.multiSlot);
    this.parts.slicing.restartClock(clock.now());
    const half = (strategy.config as { halfLifeMs?: unknown }).halfLifeMs;
    if (typeof half === 'number') usage.setHalfLife(half, clock.now());
  }
}
