/**
 * Reservations for starved requests (Slurm's backfill idea, without run times): when a request that has waited
 * `reserveAfterMs` fits nowhere, one node is set aside for it — no other placement goes there (Cluster.withhold),
 * new submits included — until it is granted, leaves the queue, or the strategy in force no longer reserves. At most
 * `maxReservations` at once, made in the strategy's order, each on its own node. Without it the engine grants
 * greedily whatever fits, so a large request waits for as long as smaller ones keep refilling every node it could
 * use (the longest waits of the trace's contended replay, bench/RESULTS.md). A reserved request's wait is then bounded
 * by reserveAfterMs plus what its node's holders have left to run; one waiting for a reservation to come free, by the
 * reservations before it.
 *
 * The starvation bound (`maxWaitMs`): what its node's holders have left to run may be weeks, so at
 * submittedAt + maxWaitMs − the grace period the preemptible holders of the reserved node that are in the request's
 * way get their notice, whatever their priority (a minimal set, found as preemption finds victims: in-the-way.ts),
 * and the request is granted by maxWaitMs. Holders that are not preemptible keep their place: a node whose
 * non-preemptible holders alone are in the way is chosen only when no node can be cleared by the bound.
 *
 * The node: among the placeable ones the request would fit on empty, the one expected to be ready soonest — when its
 * holders end (a holder's request's expectedDurationMs from its grant; one without counts as never ending) or, under
 * a bound, by the deadline when its preemptible holders suffice — then the one with the least it still lacks (in
 * shares of the node's capacity), then node order. Not persisted: after a restart the next pass makes it again (the
 * request's wait is).
 *
 * Offered by priority_based only: under a time-slicing strategy (hybrid) rotation resumes suspended allocations on
 * their own GPUs, reserved node or not, so a reservation held a node without draining it (the trace's replay at ×20:
 * hybrid's longest wait 124 → 221 h).
 */
import type { Request } from '../../shared/scheduler.ts';
import type { Core } from './core.ts';
import { shapeKey, type Holding } from './ledger-types.ts';
import type { Ledger, Shape } from './ledger.ts';
import type { QueueEntry } from './queue.ts';
import type { Strategy } from './strategy.ts';

export interface Reserved {
  requestId: string;
  node: string;
}

/** The starvation bound in force: a reserved request is granted by maxWaitMs, its victims noticed graceMs before. */
export interface Bound {
  maxWaitMs: number;
  graceMs: number;
}

/** The strategy's starvation bound, or null (none configured, or it does not reserve). */
export function boundOf(s: Strategy): Bound | null {
  if (s.reserveAfterMs == null || s.maxWaitMs == null) return null;
  return { maxWaitMs: s.maxWaitMs, graceMs: Math.min(s.graceMs, s.maxWaitMs) };
}

/** Overdue requests a pass acts on at most (the oldest): each may look for a node across the cluster. */
const OVERDUE_PER_PASS = 64;

export class Reservation {
  private held: Reserved[] = [];
  /** requests whose bound a pass acted on: their deadline is no wakeup any more (later passes retry while they wait) */
  private readonly boundActed = new Set<string>();

  constructor(private readonly core: Core) {}

  /** the reservations in force, oldest first */
  get current(): readonly Reserved[] {
    return this.held;
  }

  has(requestId: string): boolean {
    return this.of(requestId) !== undefined;
  }

  of(requestId: string): Reserved | undefined {
    return this.held.find((h) => h.requestId === requestId);
  }

  /**
   * At the start of a pass: ends the reservations whose request no longer waits or whose node is not placeable, and
   * all of them when the strategy no longer reserves; true when one ended.
   */
  ended(reserveAfterMs: number | null): boolean {
    const { queue, cluster } = this.core;
    const keep = reserveAfterMs === null ? [] : this.held.filter((h) => queue.get(h.requestId) && cluster.ledger(h.node)?.placeable);
    for (const id of this.boundActed) if (!queue.has(id)) this.boundActed.delete(id);
    if (keep.length === this.held.length) return false;
    this.held = keep;
    this.withholdAll();
    return true;
  }

  /** Ends `requestId`'s reservation (it was granted). */
  drop(requestId: string): void {
    this.held = this.held.filter((h) => h.requestId !== requestId);
    this.withholdAll();
  }

  /** Every reserved node withheld from placement, but `open`'s. */
  withholdAll(open?: string): void {
    this.core.cluster.withhold(new Set(this.held.filter((h) => h.node !== open).map((h) => h.node)));
  }

  /**
   * Set a node no other reservation holds aside for `r`, the one ready soonest (see the file's comment); with
   * `readyBy`, only a node ready by then. False when there is none.
   */
  reserve(r: Request, shape: Shape, now: number, bound: Bound | null, readyBy = Infinity): boolean {
    const taken = new Set(this.held.map((h) => h.node));
    const deadline = bound ? Math.max(now, r.submittedAt + bound.maxWaitMs) : Infinity;
    let best: { l: Ledger; ready: number; lack: number } | null = null;
    for (const l of this.core.cluster.nodesFor(shape)) {
      if (taken.has(l.node) || !l.placeable || !l.knows(shape) || l.neverFits(shape) !== null) continue;
      const ends = l.fits(shape) ? now : this.lastEnd(l, now);
      const ready = bound && ends > deadline && this.victims(l, shape) ? deadline : ends;
      if (ready > readyBy) continue;
      const c = { l, ready, lack: lack(l, shape) };
      if (!best || c.ready < best.ready || (c.ready === best.ready && c.lack < best.lack)) best = c;
    }
    if (!best) return false;
    this.held.push({ requestId: r.id, node: best.l.node });
    this.withholdAll();
    return true;
  }

  /**
   * The waiting requests whose bound's notices are due by `now` (submittedAt + maxWaitMs − graceMs), oldest first, at
   * most OVERDUE_PER_PASS; each is marked as acted on (DecisionPass.enforceBound acts).
   */
  *overdue(now: number, bound: Bound): Generator<QueueEntry> {
    let n = 0;
    for (const e of this.core.queue.entries()) {
      if (e.request.submittedAt + bound.maxWaitMs - bound.graceMs > now || n++ >= OVERDUE_PER_PASS) return;
      this.boundActed.add(e.request.id);
      yield e;
    }
  }

  /** When the next bound's notices fall due (not before `now`) for a request no pass acted on yet, or null. */
  nextDue(now: number, bound: Bound): number | null {
    for (const e of this.core.queue.entries()) {
      if (!this.boundActed.has(e.request.id)) return Math.max(now, e.request.submittedAt + bound.maxWaitMs - bound.graceMs);
    }
    return null;
  }

  /**
   * The preemptible holders of `l` (not under notice) whose release makes room for `shape`, a minimal set; null when
   * they do not suffice (or none is in the way).
   */
  victims(l: Ledger, shape: Shape): Holding[] | null {
    const ctx = this.core.context;
    const way = l.inTheWay(shape, Infinity, (h) => h.preemptible && !ctx.preempting(h.allocationId), `bound|${shapeKey(shape)}|${ctx.noticeEpoch}`);
    return way.sufficient && way.holders.length ? way.holders : null;
  }

  /** When the last holder of `l` is expected to end (Infinity when one states no length). */
  private lastEnd(l: Ledger, now: number): number {
    let end = now;
    for (const h of l.holdingsList()) {
      const d = this.core.records.requests.get(h.requestId)?.expectedDurationMs;
      if (d === undefined) return Infinity;
      end = Math.max(end, h.grantedAt + d);
    }
    return end;
  }
}

/** What `l` still lacks for `shape`, each dimension in shares of its capacity, summed. */
function lack(l: Ledger, shape: Shape): number {
  const cap = l.capacity;
  const part = (need: number, free: number, total: number | null) => (need > free && total ? (need - free) / total : 0);
  return part(shape.cpu, l.freeCpu, cap.cpu) + part(shape.memoryMiB, l.freeMemoryMiB, cap.memoryMiB)
    + part(shape.whole, l.wholeFreeGpus, cap.gpus) + (shape.fracMiB > 0 && shape.fracMiB > l.largestShareRoom ? 1 / Math.max(1, cap.gpus ?? 1) : 0);
}
