/**
 * Preemption: the notices given to victims (an `allocation_preempting` record, then the allocation ends
 * `preempted` when its grace period is over), which waiting request each notice is for, notices withdrawn when that
 * request no longer needs them (granted elsewhere, cancelled), and which requests actually had a holder preempted
 * (their conflict resolves `preempted_holder`). Victim searches cache on `epoch`, bumped whenever an allocation
 * comes under notice or leaves it.
 */
import type { Allocation, Request } from '../../shared/scheduler.ts';
import type { PreemptionPlan } from './cluster.ts';
import type { Core, Lifecycle } from './core.ts';
import { Deadlines } from './deadlines.ts';
import type { Ledger } from './ledger.ts';
import type { Strategy } from './strategy.ts';

export class Preemption {
  /** allocation id → when its resources are taken */
  private readonly notices = new Deadlines();
  private noticeEpoch = 0;
  /** waiting request → the allocations under notice for it */
  private readonly forRequest = new Map<string, Set<string>>();
  /** waiting requests for which a holder was actually preempted */
  private readonly preemptedFor = new Set<string>();
  /** per node: the lowest priority of a preemptible holding not under notice, at a ledger version and notice epoch */
  private readonly floors = new WeakMap<Ledger, { version: number; epoch: number; floor: number | null }>();
  /** a request was queued that does not fit: the next tick or simulator step runs a pass that may preempt for it */
  check = false;

  constructor(private readonly core: Core, private readonly lifecycle: Lifecycle) {}

  get epoch(): number {
    return this.noticeEpoch;
  }

  /** The allocation is under a notice already (not a victim again). */
  underNotice(allocationId: string): boolean {
    return this.notices.has(allocationId);
  }

  /**
   * A preemption was made for this waiting request (its victims under notice, or ended): it does not preempt again
   * while it waits — what its victims freed may have gone to another request first (Arbiter does not hold freed room
   * for its preemptor as kube-scheduler's nominated node does), and retrying would preempt on and on.
   */
  pendingFor(requestId: string): boolean {
    return this.forRequest.has(requestId);
  }

  /** Holders on `node` are under notice for this waiting request now (not yet carried out). */
  noticesFor(requestId: string, node: string): boolean {
    const set = this.forRequest.get(requestId);
    if (set) for (const id of set) if (this.notices.has(id) && this.core.records.allocations.get(id)?.node === node) return true;
    return false;
  }

  /** When the next notice runs out, or null. */
  get next(): number | null {
    return this.notices.next;
  }

  /** Give the victims notice (or take their resources now without a grace period). */
  start(r: Request, plan: PreemptionPlan, now: number, grace: number): void {
    const { records, changes } = this.core;
    // with the victims of an earlier plan still under notice (a starvation bound's on a reserved node): both sets
    const set = this.forRequest.get(r.id) ?? new Set<string>();
    this.forRequest.set(r.id, set);
    for (const h of plan.victims) {
      const a = records.allocations.get(h.allocationId);
      if (!a || a.state !== 'active') continue;
      set.add(a.id);
      if (grace <= 0) {
        this.lifecycle.end(a, 'preempted', now);
        continue;
      }
      const noticed: Allocation = { ...a, preemptAt: now + grace, preemptedFor: r.id };
      records.allocations.set(a.id, noticed);
      this.notices.add(a.id, now + grace);
      this.noticeEpoch++;
      changes.emit({ kind: 'allocation_preempting', at: now, allocation: noticed });
    }
  }

  /** The request no longer needs its victims (granted, cancelled): notices not yet carried out are withdrawn. */
  withdraw(requestId: string, now: number): void {
    const set = this.forRequest.get(requestId);
    if (!set) return;
    const { records, changes } = this.core;
    this.forRequest.delete(requestId);
    for (const id of set) {
      if (!this.clear(id)) continue;
      const a = records.allocations.get(id);
      if (a?.state !== 'active') continue;
      const { preemptAt: _p, preemptedFor: _f, ...rest } = a;
      records.allocations.set(id, rest);
      changes.emit({ kind: 'allocation_renewed', at: now, allocation: rest });
    }
  }

  /**
   * The allocation's node stopped being reachable: its notice, if it has one, is withdrawn (`allocation_renewed`
   * without `preemptAt`), so that it is not ended while its node cannot be reached, and the request it was for may
   * look elsewhere.
   */
  withdrawNotice(allocationId: string, now: number): void {
    if (!this.clear(allocationId)) return;
    for (const [requestId, set] of this.forRequest) if (set.delete(allocationId) && set.size === 0) this.forRequest.delete(requestId);
    const a = this.core.records.allocations.get(allocationId);
    if (a?.state !== 'active') return;
    const { preemptAt: _p, preemptedFor: _f, ...rest } = a;
    this.core.records.allocations.set(allocationId, rest);
    this.core.changes.emit({ kind: 'allocation_renewed', at: now, allocation: rest });
  }

  /** End every allocation whose notice has run out by `now`; returns whether any did. */
  carryOutDue(now: number): boolean {
    let any = false;
    for (let d = this.notices.due(now); d; d = this.notices.due(now)) {
      const id = d.allocationId;
      this.clear(id);
      const a = this.core.records.allocations.get(id);
      if (a?.state === 'active') this.lifecycle.end(a, 'preempted', now);
      any = true;
    }
    return any;
  }

  /** The allocation leaves its notice (carried out, or it ended otherwise); returns whether it had one. */
  clear(allocationId: string): boolean {
    if (!this.notices.remove(allocationId)) return false;
    this.noticeEpoch++;
    return true;
  }

  /** A victim was preempted: the request it made room for counts as having had a holder preempted. */
  victimEnded(a: Allocation): void {
    const forId = a.preemptedFor ?? [...this.forRequest].find(([, set]) => set.has(a.id))?.[0];
    if (forId !== undefined && this.core.queue.has(forId)) this.preemptedFor.add(forId);
  }

  /** The request left the queue (granted, cancelled): whether a holder had been preempted for it. */
  settled(requestId: string): boolean {
    return this.preemptedFor.delete(requestId);
  }

  /** A notice read back from the store. */
  restore(a: Allocation): void {
    if (a.preemptAt === undefined) return;
    this.notices.add(a.id, a.preemptAt);
    this.noticeEpoch++;
    if (a.preemptedFor !== undefined) {
      const set = this.forRequest.get(a.preemptedFor) ?? new Set<string>();
      set.add(a.id);
      this.forRequest.set(a.preemptedFor, set);
    }
  }

  /**
   * Requests of a priority above this may find victims (Strategy.preempts): for `lower_priority` the lowest
   * priority of a preemptible allocation not under notice (null: none); -Infinity for `any`; null for `none`.
   */
  floor(strategy: Strategy): number | null {
    if (strategy.preempts === 'any') return -Infinity;
    if (strategy.preempts === 'none') return null;
    let floor: number | null = null;
    for (const l of this.core.cluster.ledgers()) {
      // the holders of a node that is not reachable are no victims
      if (!l.placeable) continue;
      const f = this.ledgerFloor(l);
      if (f !== null && (floor === null || f < floor)) floor = f;
    }
    return floor;
  }

  /** One node's part of `floor`, kept while its ledger and the notices stay the same (a pass changes one or two). */
  private ledgerFloor(l: Ledger): number | null {
    let f = this.floors.get(l);
    if (f && f.version === l.version && f.epoch === this.noticeEpoch) return f.floor;
    let floor: number | null = null;
    for (const h of l.holdingsList()) {
      if (h.preemptible && !this.notices.has(h.allocationId) && (floor === null || h.priority < floor)) floor = h.priority;
    }
    if (!f) this.floors.set(l, (f = { version: 0, epoch: 0, floor }));
    f.version = l.version;
    f.epoch = this.noticeEpoch;
    f.floor = floor;
    return floor;
  }
}
