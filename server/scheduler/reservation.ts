/**
 * One reservation for a starved request (Slurm's backfill idea, kept to one request and without run times): when
 * the first request in the strategy's order that has waited `reserveAfterMs` fits nowhere, one node is set aside
 * for it — no other placement goes there (Cluster.withhold), new submits included — until it is granted, leaves the
 * queue, or the strategy in force no longer reserves. Without it the engine grants greedily whatever fits, so a
 * large request waits for as long as smaller ones keep refilling every node it could use (the longest waits of the
 * trace's contended replay, bench/RESULTS.md). Its wait is then bounded by reserveAfterMs plus what the node's
 * holders have left to run.
 *
 * The node: among the placeable ones the request would fit on empty, the one whose holders are expected to end
 * soonest (a holder's request's expectedDurationMs from its grant; one without counts as never ending), then the one
 * with the least it still lacks (in shares of the node's capacity), then node order. Not persisted: after a restart
 * the next pass makes it again (the request's wait is).
 */
import type { Request } from '../../shared/scheduler.ts';
import type { Core } from './core.ts';
import type { Ledger, Shape } from './ledger.ts';

export interface Reserved {
  requestId: string;
  node: string;
  since: number;
}

export class Reservation {
  private held: Reserved | null = null;

  constructor(private readonly core: Core) {}

  get current(): Reserved | null {
    return this.held;
  }

  /** At the start of a pass: ends the reservation when its request no longer waits, its node is not placeable or the
   * strategy no longer reserves; true when it ended. */
  ended(reserveAfterMs: number | null): boolean {
    const h = this.held;
    if (!h) return false;
    if (reserveAfterMs !== null && this.core.queue.get(h.requestId) && this.core.cluster.ledger(h.node)?.placeable) return false;
    this.clear();
    return true;
  }

  clear(): void {
    this.held = null;
    this.core.cluster.withhold(null);
  }

  /** Set a node aside for `r` (it fits nowhere now); false when no node could ever hold it. */
  reserve(r: Request, shape: Shape, now: number): boolean {
    let best: { l: Ledger; ends: number; lack: number } | null = null;
    for (const l of this.core.cluster.nodesFor(shape)) {
      if (!l.placeable || !l.knows(shape) || l.neverFits(shape) !== null) continue;
      const c = { l, ends: this.lastEnd(l, now), lack: lack(l, shape) };
      if (!best || c.ends < best.ends || (c.ends === best.ends && c.lack < best.lack)) best = c;
    }
    if (!best) return false;
    this.held = { requestId: r.id, node: best.l.node, since: now };
    this.core.cluster.withhold(best.l.node);
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
