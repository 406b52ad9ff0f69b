/**
 * The decision pass: grant what fits in the strategy's order, try (at most) one preemption for a request that does
 * not fit, then re-evaluate the conflicts of what still waits. Greedy: a request that fits is not held back for an
 * earlier one that does not — but for the nodes reserved for starved requests, and the starvation bound's
 * preemptions on them, when the strategy reserves (reservation.ts). When the ledger has not changed since the last pass (and no strategy
 * switch or restore happened), nothing new can fit and the placement part is skipped unless forced.
 */
import type { Request } from '../../shared/scheduler.ts';
import type { Booking } from './booking.ts';
import type { Core } from './core.ts';
import type { Shape } from './ledger.ts';
import type { Preemption } from './preemption.ts';
import type { RequestConflicts } from './request-conflicts.ts';
import { Reservation, boundOf, type Bound } from './reservation.ts';
import type { Slicing } from './slicing.ts';

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

export class DecisionPass {
  /** ledger version at the end of the last placement pass: nothing new can fit until it changes */
  private passVersion = -1;
  /** the next pass places even when the ledger did not change (strategy switch, restore, live utilisation…) */
  force = true;
  /** the nodes set aside for starved requests, when the strategy reserves (reserveAfterMs) */
  readonly reservation: Reservation;

  constructor(
    private readonly core: Core,
    private readonly booking: Booking,
    private readonly preemption: Preemption,
    private readonly slicing: Slicing,
    private readonly conflicts: RequestConflicts,
  ) {
    this.reservation = new Reservation(core);
  }

  /** Grants changed the ledger since the last pass (waiting requests' holders follow at the next one). */
  get stale(): boolean {
    return this.passVersion !== this.core.cluster.version;
  }

  /** A preemption is possible: some active allocation could be a victim. */
  canPreempt(): boolean {
    return this.preemption.floor(this.core.strategy) !== null;
  }

  run(): void {
    const core = this.core;
    const { cluster, queue, context } = core;
    core.dirty = false;
    const now = core.clock.now();
    if (core.strategy.quantumMs === null && this.slicing.size) this.slicing.resumeUnsliced(now);
    const reserveAfter = core.strategy.reserveAfterMs ?? null;
    // a node set free by a reservation's end can take what waits: place even though the ledger did not change
    if (this.reservation.ended(reserveAfter)) this.force = true;
    if (!queue.size) return;
    if (!this.force && !this.stale) {
      if (this.conflicts.pending) this.conflicts.refresh(now, queue.requests());
      return;
    }
    this.force = false;
    const strategy = core.strategy;
    const floor = this.preemption.floor(strategy);
    const canPreempt = floor !== null;
    // while holders are suspended, time-sliced requests go only onto GPUs none of them waits for (placeFor)
    const claims = strategy.quantumMs !== null && this.slicing.suspendedCount > 0 ? this.slicing.suspendedClaims() : undefined;
    const bound = boundOf(strategy);
    if (bound) this.enforceBound(now, bound);
    this.placeReserved(now, claims);
    // the waiting shapes (shape and priority) that fit somewhere now: the order is walked only while one of them
    // (or a preemption attempt) is left — with thousands waiting on a full cluster a pass stops early. A grant only
    // takes capacity, so a shape that did not fit stays out for the rest of the pass.
    const fitting = new Map<string, Shape>();
    for (const [key, shape] of queue.shapeEntries()) {
      if (cluster.knows(shape) && cluster.fits(shape)) fitting.set(key, shape);
    }
    const noVictims = new Set<string>();
    // shape keys whose priority is above the floor: the only ones preemption can be tried for
    let preemptKeys = 0;
    if (canPreempt) for (const p of queue.shapePriorities()) if (p > floor!) preemptKeys++;
    const seen: Request[] = [];
    let walked = 0;
    let attempts = canPreempt ? PREEMPT_ATTEMPTS_PER_PASS : 0;
    const maxReservations = strategy.maxReservations ?? 1;
    if (strategy.among && fitting.size) {
      // grants: only the requests of shapes that fit, in the strategy's order (every one of them is tried)
      const keys = new Set(fitting.keys());
      for (const r of strategy.among(queue, context, keys)) {
        seen.push(r);
        const e = queue.get(r.id);
        if (!e || !keys.has(e.shapeKey)) continue;
        const placement = this.slicing.placeFor(e.request, e.shape, claims);
        if (!placement) continue;
        this.booking.grant(e.request, placement, now);
        this.keepFitting(fitting, keys);
        if (!keys.size) break;
      }
      fitting.clear();
    }
    const it = strategy.order(queue, context)[Symbol.iterator]();
    for (let step = it.next(); !step.done; step = it.next()) {
      const r = step.value;
      seen.push(r);
      const e = queue.get(r.id);
      if (!e) continue;
      if (fitting.has(e.shapeKey)) {
        const placement = this.slicing.placeFor(e.request, e.shape, claims);
        if (placement) {
          this.booking.grant(e.request, placement, now);
          this.keepFitting(fitting);
        }
      } else {
        // a request starved past the bound that fits nowhere: a node is set aside for it (the first ones in order)
        if (reserveAfter !== null && this.reservation.current.length < maxReservations && now - r.submittedAt >= reserveAfter
          && !this.reservation.has(r.id) && cluster.knows(e.shape) && this.reservation.reserve(r, e.shape, now, bound)) this.keepFitting(fitting);
        if (attempts > 0 && r.priority > floor! && cluster.knows(e.shape) && !this.preemption.pendingFor(r.id) && !noVictims.has(e.shapeKey)) {
          attempts--;
          this.tryPreempt(e.request, e.shape, now);
          // one attempt per shape and pass (kube-scheduler preempts for one pod per cycle)
          noVictims.add(e.shapeKey);
          this.keepFitting(fitting);
        }
      }
      // nothing fits and no preemption attempt (spent, every shape above the floor tried) nor reservation is left to
      // make, or the walk has gone PREEMPT_SCAN deep
      const preemptDone = attempts <= 0 || noVictims.size >= preemptKeys;
      const reserveDone = reserveAfter === null || this.reservation.current.length >= maxReservations;
      if (!fitting.size && ((preemptDone && reserveDone) || ++walked >= PREEMPT_SCAN)) break;
    }
    this.passVersion = cluster.version;
    // conflicts: the requests walked, then on along the same order (the refresh's own scan limit bounds it)
    this.conflicts.refresh(now, concat(seen, { [Symbol.iterator]: () => it }));
  }

  /** Preempt for `r` when the strategy finds victims; with no grace it is granted at once where it then fits. */
  private tryPreempt(r: Request, shape: Shape, now: number): void {
    const { strategy, context, cluster } = this.core;
    const plan = strategy.preempt(r, context);
    if (!plan) return;
    this.preemption.start(r, plan, now, strategy.graceMs);
    if (strategy.graceMs > 0 || !cluster.fits(shape)) return;
    const placement = strategy.place(r, context);
    if (placement) this.booking.grant(r, placement, now);
  }

  /**
   * The starvation bound (reservation.ts): each request whose notice time has come, oldest first, has the preemptible
   * holders in its way on its reserved node preempted — unless holders there are under notice for it now (room freed on
   * a reserved node goes to its request only, so it may preempt there even after an earlier preemption elsewhere). One without
   * a reservation (they were all taken when it reached reserveAfterMs) gets one beyond maxReservations, but only on a
   * node that can be ready by its deadline. Retried at each pass while it waits (the reserved node's other holders
   * only leave: nothing else is placed there).
   */
  private enforceBound(now: number, bound: Bound): void {
    const { cluster } = this.core;
    for (const e of this.reservation.overdue(now, bound)) {
      const r = e.request;
      if (!cluster.knows(e.shape)) continue;
      if (!this.reservation.has(r.id) && !this.reservation.reserve(r, e.shape, now, bound, Math.max(now, r.submittedAt + bound.maxWaitMs))) continue;
      const node = this.reservation.of(r.id)!.node;
      if (this.preemption.noticesFor(r.id, node)) continue;
      const l = cluster.ledger(node);
      if (!l || l.fits(e.shape)) continue;
      const victims = this.reservation.victims(l, e.shape);
      if (victims) this.preemption.start(r, { node, victims }, now, bound.graceMs);
    }
  }

  /** A bound's notices are due by `now`, or when they next are (Reservation.nextDue). */
  boundDue(now: number): boolean {
    const at = this.boundWakeup(now);
    return at !== null && at <= now;
  }

  boundWakeup(now: number): number | null {
    const bound = boundOf(this.core.strategy);
    return bound ? this.reservation.nextDue(now, bound) : null;
  }

  /** The reserved requests first, oldest reservation first, each with its own node open to it (reservation.ts). */
  private placeReserved(now: number, claims: ReadonlySet<string> | undefined): void {
    const { cluster, queue } = this.core;
    for (const held of [...this.reservation.current]) {
      const e = queue.get(held.requestId);
      if (!e) continue;
      this.reservation.withholdAll(held.node);
      const placement = cluster.fits(e.shape) ? this.slicing.placeFor(e.request, e.shape, claims) : null;
      this.reservation.withholdAll();
      if (!placement) continue;
      this.reservation.drop(held.requestId);
      this.booking.grant(e.request, placement, now);
    }
  }

  /** After a grant: the shapes that no longer fit anywhere leave `fitting` (and `keys`). */
  private keepFitting(fitting: Map<string, Shape>, keys?: Set<string>): void {
    for (const [key, shape] of fitting) {
      if (this.core.cluster.fits(shape)) continue;
      fitting.delete(key);
      keys?.delete(key);
    }
  }
}

function* concat<T>(a: Iterable<T>, b: Iterable<T>): Generator<T> {
  yield* a;
  yield* b;
}
