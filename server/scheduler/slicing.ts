/**
 * Time-slicing: the bookkeeping of allocations whose request rotates (GPU·ms attained, running or suspended since
 * when), the rotation clock, and the rotation itself — Tiresias' discretised least-attained-service: every quantum
 * the time-sliced holders running, suspended or waiting are ranked by the strategy, and when a waiting one outranks
 * a running one the GPUs change hands (`allocation_suspended` / `allocation_resumed`). A suspended holder keeps its
 * cpu and memory booked (a paused container keeps its RAM), gives up its GPU slot, and resumes only on its own GPUs.
 * Holders on a node that is not reachable sit rotations out: they neither give up their GPUs nor resume.
 */
import type { Allocation, Request } from '../../shared/scheduler.ts';
import { cpuMemOnly, holdingMeta, usageAmount } from './booking.ts';
import type { Placement } from './cluster.ts';
import type { Core, Lifecycle } from './core.ts';
import { requestShape, shapeOf, type Shape } from './ledger.ts';
import type { Preemption } from './preemption.ts';
import { placeholderRequest } from './records.ts';
import { placeAvoidingClaims, placeUnclaimed } from './slice-placement.ts';
import type { SliceCandidate } from './strategy.ts';

/** Time-slicing bookkeeping of an allocation whose request rotates. */
interface SliceState {
  /** GPU·ms received before `runningSince` */
  attainedMs: number;
  runningSince: number | null;
  suspendedSince: number | null;
  /** run time so far, ms */
  ranMs: number;
}

interface Candidate {
  a?: Allocation;
  st?: SliceState;
  r: Request;
  rank: number;
}

const byRank = (x: Candidate, y: Candidate) => x.rank - y.rank || x.r.submittedAt - y.r.submittedAt || (x.r.id < y.r.id ? -1 : 1);

export class Slicing {
  private readonly slices = new Map<string, SliceState>();
  /** ids of the allocations suspended now (kept beside `slices`: passes and submits ask for their count) */
  private readonly suspendedIds = new Set<string>();
  private nextRotation: number | null = null;
  private readonly rankScratch: SliceCandidate = { request: null as unknown as Request, attainedMs: 0, waitingSince: null, runMs: 0 };

  constructor(private readonly core: Core, private readonly lifecycle: Lifecycle, private readonly preemption: Preemption) {}

  /** Allocations suspended by time-slicing. */
  get suspendedCount(): number {
    return this.suspendedIds.size;
  }

  /** Time-sliced allocations kept (running or suspended). */
  get size(): number {
    return this.slices.size;
  }

  /** The rotation clock restarts with a quantum (the strategy's; null: nothing rotates). */
  restartClock(now: number, quantumMs = this.core.strategy.quantumMs): void {
    this.nextRotation = quantumMs === null ? null : now + quantumMs;
  }

  /** A rotation is due now. */
  due(now: number): boolean {
    return this.nextRotation !== null && now >= this.nextRotation;
  }

  /** The next rotation, when one matters (time-sliced holders run and something waits), or null. */
  nextWakeup(): number | null {
    return this.nextRotation !== null && this.slices.size > 0 && (this.core.queue.size > 0 || this.suspendedIds.size > 0) ? this.nextRotation : null;
  }

  /** A grant: the allocation starts running its slice when the strategy rotates its request. */
  granted(allocationId: string, request: Request, now: number): void {
    if (this.core.strategy.sliced(request)) this.slices.set(allocationId, { attainedMs: 0, runningSince: now, suspendedSince: null, ranMs: 0 });
  }

  /** The allocation ended: its slice is forgotten; returns whether it was suspended (its usage no longer counted). */
  ended(allocationId: string): boolean {
    const st = this.slices.get(allocationId);
    this.slices.delete(allocationId);
    this.suspendedIds.delete(allocationId);
    return st !== undefined && st.suspendedSince !== null;
  }

  /** An active allocation read back from the store (suspended when it has `suspendedAt`). */
  restore(a: Allocation, r: Request, now: number): void {
    if (!this.core.strategy.sliced(r)) return;
    const suspended = a.suspendedAt !== undefined;
    this.slices.set(a.id, { attainedMs: 0, runningSince: suspended ? null : now, suspendedSince: suspended ? a.suspendedAt! : null, ranMs: 0 });
    if (suspended) this.suspendedIds.add(a.id);
  }

  /**
   * The strategy's placement, except for a request it time-slices while holders are suspended: those wait to
   * resume on their own GPUs, so such a request goes only onto GPUs no suspended holder claims.
   */
  placeFor(r: Request, shape: Shape, claims?: ReadonlySet<string>): Placement | null {
    const { strategy, context, cluster } = this.core;
    if (strategy.quantumMs === null || !strategy.sliced(r) || this.suspendedIds.size === 0) return strategy.place(r, context);
    return placeUnclaimed(cluster, shape, claims ?? this.suspendedClaims());
  }

  /** `node:gpu` of every GPU a suspended holder waits to resume on. */
  suspendedClaims(): Set<string> {
    const out = new Set<string>();
    for (const id of this.suspendedIds) {
      const a = this.core.records.allocations.get(id);
      if (a) for (const g of a.gpuIndices) out.add(`${a.node}:${g}`);
    }
    return out;
  }

  /** After a switch to a strategy that does not rotate: suspended allocations resume where they fit. */
  resumeUnsliced(now: number): void {
    const { records, strategy } = this.core;
    for (const [id, st] of [...this.slices]) {
      const a = records.allocations.get(id);
      const r = a && records.requests.get(a.requestId);
      if (!a || a.state !== 'active') {
        this.slices.delete(id);
        this.suspendedIds.delete(id);
        continue;
      }
      if (r && strategy.sliced(r)) continue;
      if (st.suspendedSince !== null && !this.tryResume(a, st, now)) continue;
      this.slices.delete(id);
    }
  }

  /**
   * One rotation: the time-sliced holders running, suspended or waiting are ranked by the strategy (queue by
   * attained service, anti-starvation promotion, then arrival); when a waiting one outranks a running one, every
   * running holder at risk gives up its GPUs and the ranking takes them back greedily: the best-ranked candidates
   * that fit run (resumed on their own GPUs, or granted), the others are suspended or keep waiting.
   * Cost O(k log k) for k candidates, bounded by the GPU slots: waiting requests are taken oldest first only as
   * many as there are slots. Returns true when holders changed hands (a decision pass is due).
   */
  rotate(now: number): boolean {
    const { strategy, records, cluster, queue } = this.core;
    const q = strategy.quantumMs;
    this.nextRotation = q === null ? null : now + q;
    if (q === null) return false;
    // the waiting side first (suspended holders, then the oldest queued requests it rotates): its best rank
    // decides whether any running holder is at risk at all
    const waiting: Candidate[] = [];
    let best = Infinity;
    let anyRunning = false;
    for (const [id, st] of this.slices) {
      if (st.runningSince !== null) {
        anyRunning = true;
        continue;
      }
      const a = records.allocations.get(id);
      const r = a && records.requests.get(a.requestId);
      if (!a || !r || a.state !== 'active' || !this.reachable(a)) continue;
      const rank = this.rankOf(a, r, st, now);
      waiting.push({ a, st, r, rank });
      if (rank < best) best = rank;
    }
    let slots = 0;
    for (const l of cluster.ledgers()) if (l.placeable) slots += (l.capacity.gpus ?? 0) * l.replicas;
    let taken = 0;
    for (const e of queue.entries()) {
      if (taken >= slots) break;
      const r = e.request;
      if (!strategy.sliced(r) || this.preemption.pendingFor(r.id)) continue;
      taken++;
      const rank = strategy.sliceRank({ request: r, attainedMs: 0, waitingSince: r.submittedAt, runMs: 0 }, now);
      waiting.push({ r, rank });
      if (rank < best) best = rank;
    }
    if (!waiting.length) return false;
    if (!anyRunning) return this.resumeOnly(waiting, now);
    // running holders ranked before every waiting candidate keep their GPUs untouched (the greedy pass would give
    // them back at once); only those at risk take part
    const running: (Candidate & { a: Allocation; st: SliceState })[] = [];
    for (const [id, st] of this.slices) {
      if (st.runningSince === null) continue;
      const a = records.allocations.get(id);
      const r = a && records.requests.get(a.requestId);
      if (!a || !r || a.state !== 'active' || !this.reachable(a)) continue;
      const rank = this.rankOf(a, r, st, now);
      if (rank > best) running.push({ a, st, r, rank });
    }
    if (!running.length) return this.resumeOnly(waiting, now);
    this.swap(running, waiting, now);
    return true;
  }

  /**
   * Nothing to swap: in rank order, suspended holders resume where their GPUs have room, and waiting requests take
   * GPUs that no suspended holder ranked before them still waits for.
   */
  private resumeOnly(waiting: Candidate[], now: number): false {
    const { queue, cluster } = this.core;
    waiting.sort(byRank);
    const claims = new Map<string, number>();
    for (const w of waiting) if (w.a) for (const g of w.a.gpuIndices) claims.set(`${w.a.node}:${g}`, Math.min(claims.get(`${w.a.node}:${g}`) ?? Infinity, w.rank));
    for (const w of waiting) {
      if (w.a && w.st) {
        if (this.tryResume(w.a, w.st, now)) for (const g of w.a.gpuIndices) claims.delete(`${w.a.node}:${g}`);
        continue;
      }
      if (!queue.has(w.r.id)) continue;
      const shape = requestShape(w.r);
      if (!cluster.fits(shape)) continue;
      const better = new Set<string>();
      for (const [k, rank] of claims) if (rank < w.rank) better.add(k);
      const p = placeUnclaimed(cluster, shape, better);
      if (p) this.lifecycle.grant(w.r, p, now);
    }
    return false;
  }

  /** Every running holder at risk gives its GPUs back (keeps cpu/memory), then the ranking takes them. */
  private swap(running: (Candidate & { a: Allocation; st: SliceState })[], waiting: Candidate[], now: number): void {
    const { records, cluster, usage, queue, changes } = this.core;
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
    const wasRunning = new Set<string>();
    for (const x of running) {
      wasRunning.add(x.a.id);
      const st = x.st;
      const gpus = Math.max(1, x.a.gpuIndices.length);
      st.attainedMs += gpus * (now - st.runningSince!);
      st.ranMs += now - st.runningSince!;
      st.runningSince = null;
      const r = records.requests.get(x.a.requestId) ?? placeholderRequest(x.a);
      const shape = shapeOf(x.a.resources);
      cluster.release(x.a.id);
      cluster.allocate(x.a.node, x.a.id, cpuMemOnly(shape), [], holdingMeta(r, x.a.grantedAt), true);
      usage.remove(r.owner, r.group, usageAmount(this.core, shape, x.a.node), now);
    }
    const all = [...running.map((x) => ({ a: x.a as Allocation | undefined, st: x.st as SliceState | undefined, r: records.requests.get(x.a.requestId)!, rank: x.rank })), ...waiting]
      .sort(byRank);
    for (const c of all) {
      if (c.a && c.st) {
        if (wasRunning.has(c.a.id)) {
          // back on its GPUs quietly when they have room, else suspended now
          if (this.reclaim(c.a, c.st, now)) continue;
          c.st.suspendedSince = now;
          this.suspendedIds.add(c.a.id);
          const next: Allocation = { ...c.a, suspendedAt: now };
          records.allocations.set(c.a.id, next);
          changes.emit({ kind: 'allocation_suspended', at: now, allocation: next });
        } else {
          this.tryResume(c.a, c.st, now);
        }
      } else if (queue.has(c.r.id)) {
        const shape = requestShape(c.r);
        if (!cluster.fits(shape)) continue;
        const p = placeAvoidingClaims(cluster, shape, claim);
        if (p) this.lifecycle.grant(c.r, p, now);
      }
    }
  }

  /** The allocation's node is reachable (holders elsewhere sit rotations out). */
  private reachable(a: Allocation): boolean {
    return this.core.cluster.ledger(a.node)?.placeable ?? false;
  }

  /** The strategy's rotation rank of a time-sliced allocation (one scratch candidate: rotations rank many). */
  private rankOf(a: Allocation, r: Request, st: SliceState, now: number): number {
    const c = this.rankScratch;
    c.request = r;
    c.allocationId = a.id;
    c.attainedMs = st.attainedMs + (st.runningSince === null ? 0 : Math.max(1, a.gpuIndices.length) * (now - st.runningSince));
    c.waitingSince = st.suspendedSince;
    c.runMs = st.ranMs + (st.runningSince === null ? 0 : now - st.runningSince);
    return this.core.strategy.sliceRank(c, now);
  }

  /** Resume on its own GPUs when they have room now; false when they do not. */
  private tryResume(a: Allocation, st: SliceState, now: number): boolean {
    if (!this.reclaim(a, st, now)) return false;
    st.suspendedSince = null;
    this.suspendedIds.delete(a.id);
    const { suspendedAt: _s, ...rest } = a;
    this.core.records.allocations.set(a.id, rest);
    this.core.changes.emit({ kind: 'allocation_resumed', at: now, allocation: rest });
    return true;
  }

  /**
   * A holder without its GPUs (suspended, or giving them back in this rotation) takes them again when they have
   * room; no record (tryResume adds the resume).
   */
  private reclaim(a: Allocation, st: SliceState, now: number): boolean {
    const { cluster, records, usage } = this.core;
    const l = cluster.ledger(a.node);
    if (!l || !l.placeable) return false;
    const shape = shapeOf(a.resources);
    for (const i of new Set(a.gpuIndices)) {
      const g = l.slots().find((x) => x.index === i);
      const ok = g && (shape.fracMiB > 0 ? l.shareRoom(g) >= shape.fracMiB : l.freeSlots(g) >= a.gpuIndices.filter((x) => x === i).length);
      if (!ok) return false;
    }
    const r = records.requests.get(a.requestId) ?? placeholderRequest(a);
    cluster.release(a.id);
    cluster.allocate(a.node, a.id, shape, a.gpuIndices, holdingMeta(r, a.grantedAt), true);
    usage.add(r.owner, r.group, usageAmount(this.core, shape, a.node), now);
    st.runningSince = now;
    return true;
  }
}
