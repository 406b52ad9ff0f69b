/**
 * Reservations for starved requests (Slurm's backfill idea, without run times): when a request that has waited
 * `reserveAfterMs` fits nowhere, one node is set aside for it — no other placement goes there (Cluster.withhold),
 * new submits included — until it is granted, leaves the queue, or the strategy in force no longer reserves. At most
 * `maxReservations` at once, made in the strategy's order, each on its own node. Without it the engine grants
 * greedily whatever fits, so a large request waits for as long as smaller ones keep refilling every node it could
 * use (the longest waits of the trace's contended replay, bench/RESULTS.md). A reserved request's wait is then bounded by reserveAfterMs plus what
 * its node's holders have left to run; one waiting for a reservation to come free, by the reservations before it.
 *
 * The node: among the placeable ones the request would fit on empty, the one whose holders are expected to end
 * soonest (a holder's request's expectedDurationMs from its grant; one without counts as never ending), then the one
 * with the least it still lacks (in shares of the node's capacity), then node order. Not persisted: after a restart
 * the next pass makes it again (the request's wait is).
 *
 * Offered by priority_based only: under a time-slicing strategy (hybrid) rotation resumes suspended allocations on
 * their own GPUs, reserved node or not, so a reservation held a node without draining it (the trace's replay at ×20:
 * hybrid's longest wait 124 → 221 h).
 */
import type { Request } from '../../shared/scheduler.ts';
import type { Core } from './core.ts';
import type { Ledger, Shape } from './ledger.ts';

export interface Reserved {
  requestId: string;
  node: string;
}

export class Reservation {
  private held: Reserved[] = [];

  constructor(private readonly core: Core) {}

  /** the reservations in force, oldest first */
  get current(): readonly Reserved[] {
    return this.held;
  }

  has(requestId: string): boolean {
    return this.held.some((h) => h.requestId === requestId);
  }

  /**
   * At the start of a pass: ends the reservations whose request no longer waits or whose node is not placeable, and
   * all of them when the strategy no longer reserves; true when one ended.
   */
  ended(reserveAfterMs: number | null): boolean {
    const { queue, cluster } = this.core;
    const keep = reserveAfterMs === null ? [] : this.held.filter((h) => queue.get(h.requestId) && cluster.ledger(h.node)?.placeable);
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

  /** Set a node no other reservation holds aside for `r` (it fits nowhere now); false when there is none. */
  reserve(r: Request, shape: Shape, now: number): boolean {
    const taken = new Set(this.held.map((h) => h.node));
    let best: { l: Ledger; ends: number; lack: number } | null = null;
    for (const l of this.core.cluster.nodesFor(shape)) {
      if (taken.has(l.node) || !l.placeable || !l.knows(shape) || l.neverFits(shape) !== null) continue;
      const c = { l, ends: this.lastEnd(l, now), lack: lack(l, shape) };
      if (!best || c.ends < best.ends || (c.ends === best.ends && c.lack < best.lack)) best = c;
    }
    if (!best) return false;
    this.held.push({ requestId: r.id, node: best.l.node });
    this.withholdAll();
    return true;
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
