/**
 * GPU-time per owner for the PerformanceRecorder: what each owner holds and waits for now (GPU equivalents),
 * credited to the active strategy's row (received, waited for) whenever it changes; the GPUs allocated in all; and
 * Jain's index over the owners of a row (jainIndex below: the entitlement it measures against).
 */
import type { Row } from './performance-records.ts';

interface OwnerHolding {
  /** GPU equivalents held now (suspended allocations excluded) */
  gpus: number;
  /** allocations counted in `gpus` */
  count: number;
  /** GPU equivalents its waiting requests ask for now, and how many wait */
  waitGpus: number;
  waitCount: number;
  /** GPU-time up to here is credited */
  since: number;
}

export class OwnerTime {
  private readonly owners = new Map<string, OwnerHolding>();
  /** GPU equivalents held by active, unsuspended allocations */
  allocated = 0;
  private allocatedCount = 0;

  /** `activeRow`: the row GPU-time is credited to now (null: none) */
  constructor(private readonly activeRow: () => Row | null) {}

  /** Credit every owner up to `t` (before the active row changes). */
  creditAll(t: number): void {
    for (const [owner, o] of this.owners) this.credit(owner, o, t);
  }

  /** An allocation of `gpus` GPU equivalents starts (or resumes) counting for `owner`. */
  hold(owner: string, gpus: number, t: number): void {
    const o = this.ownerAt(owner, t);
    o.gpus += gpus;
    o.count++;
    this.allocated += gpus;
    this.allocatedCount++;
  }

  unhold(owner: string, gpus: number, t: number): void {
    const o = this.owners.get(owner);
    if (o) {
      this.credit(owner, o, t);
      o.gpus -= gpus;
      if (--o.count === 0) o.gpus = 0;
      this.dropIdle(owner, o);
    }
    this.allocated -= gpus;
    // sums of fractions: back to an exact 0 when nothing is held
    if (--this.allocatedCount === 0) this.allocated = 0;
  }

  /** A request of `owner` asking for `amount` GPU equivalents starts waiting. */
  wait(owner: string, amount: number, t: number): void {
    const o = this.ownerAt(owner, t);
    o.waitGpus += amount;
    o.waitCount++;
  }

  unwait(owner: string, amount: number, t: number): void {
    const o = this.owners.get(owner);
    if (!o) return;
    this.credit(owner, o, t);
    o.waitGpus -= amount;
    if (--o.waitCount === 0) o.waitGpus = 0;
    this.dropIdle(owner, o);
  }

  /** Jain's index of `row`; `now`: the live row, whose owners' GPU-time since their last credit counts too. */
  jain(row: Row, now: number | null, weightOf: (owner: string) => number): number | null {
    const received = new Map(row.received);
    const waited = new Map(row.waited);
    if (now !== null) {
      for (const [owner, o] of this.owners) {
        if (now <= o.since) continue;
        if (o.gpus > 0) received.set(owner, (received.get(owner) ?? 0) + o.gpus * (now - o.since));
        if (o.waitGpus > 0) waited.set(owner, (waited.get(owner) ?? 0) + o.waitGpus * (now - o.since));
      }
    }
    return jainIndex(received, waited, weightOf);
  }

  /** The owner's record, credited up to `t`. */
  private ownerAt(owner: string, t: number): OwnerHolding {
    let o = this.owners.get(owner);
    if (!o) this.owners.set(owner, (o = { gpus: 0, count: 0, waitGpus: 0, waitCount: 0, since: t }));
    this.credit(owner, o, t);
    return o;
  }

  private dropIdle(owner: string, o: OwnerHolding): void {
    if (o.count === 0 && o.waitCount === 0) this.owners.delete(owner);
  }

  /** Credit the owner's GPU-time since its last credit to the active strategy. */
  private credit(owner: string, o: OwnerHolding, t: number): void {
    const row = this.activeRow();
    if (row && t > o.since) {
      const gpuMs = o.gpus * (t - o.since);
      if (gpuMs > 0) row.received.set(owner, (row.received.get(owner) ?? 0) + gpuMs);
      const waitMs = o.waitGpus * (t - o.since);
      if (waitMs > 0) row.waited.set(owner, (row.waited.get(owner) ?? 0) + waitMs);
    }
    o.since = t;
  }
}

/**
 * Jain's index (Σx)² ÷ (n·Σx²) over the owners that asked for GPUs while the strategy was active (received
 *   GPU-time, or waited for GPUs). x = received GPU-time ÷ entitled GPU-time, where "entitled" is the owner's weighted
 *   max-min fair share of the GPU-time delivered to all of them, capped by its demand: demand = received + the
 *   GPU-time its waiting requests asked for (GPUs × wait); the fair level λ solves Σ min(demand_i, w_i·λ) = delivered
 *   (water-filling; weights from `ownerWeights`, absent owners `defaultWeight`, current at the snapshot). An owner
 *   whose demand is within its share (demand ≤ w·λ) is entitled to its demand: x = 1 if it never waited. When no
 *   owner waited, every x = 1 and the index is 1; an owner that waited while others got more than their fair share
 *   has x < 1, and those others x = received ÷ w·λ > 1, even if they never waited. Owners with demand 0 (asked,
 *   waited 0 ms so far) do not count. null with fewer than 2 owners, or when nothing was delivered.
 */
export function jainIndex(receivedIn: ReadonlyMap<string, number>, waited: ReadonlyMap<string, number>, weightOf: (owner: string) => number): number | null {
  const received = new Map(receivedIn);
  for (const owner of waited.keys()) if (!received.has(owner)) received.set(owner, 0);
  if (received.size < 2) return null;
  let total = 0;
  for (const r of received.values()) total += r;
  if (total <= 0) return null;
  // entitled: weighted max-min fair shares of the delivered total, capped by what each owner asked for
  // (demand = received + GPU-time it waited for): water-filling in order of demand ÷ weight
  const w = weightOf;
  const demand = (o: string) => received.get(o)! + (waited.get(o) ?? 0);
  const order = [...received.keys()].filter((o) => demand(o) > 0).sort((a, b) => demand(a) / w(a) - demand(b) / w(b));
  let left = total;
  let weights = order.reduce((sum, o) => sum + w(o), 0);
  let level = Infinity;
  for (const o of order) {
    if ((demand(o) / w(o)) * weights <= left) {
      left -= demand(o);
      weights -= w(o);
      continue;
    }
    level = left / weights;
    break;
  }
  let sum = 0;
  let sumSq = 0;
  let n = 0;
  for (const o of order) {
    const entitled = Math.min(demand(o), w(o) * level);
    if (entitled <= 0) continue;
    const x = received.get(o)! / entitled;
    sum += x;
    sumSq += x * x;
    n++;
  }
  return n >= 2 && sumSq > 0 ? (sum * sum) / (n * sumSq) : null;
}
