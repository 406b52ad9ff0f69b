/**
 * The conflicts of waiting requests: one opened when a request is queued (what is in the way: evaluateWait), kept
 * current as the cluster changes, and its severity grown with waiting. Evaluations are cached per shape and priority
 * at a ledger version (requests of the same shape share one); an evaluation equal to the previous version's keeps its
 * identity, so "unchanged" is one comparison. A refresh is bounded by a budget: the head of the queue is always
 * current, the rest follow at the next passes and ticks (`pending`).
 */
import type { ConflictHolder, Request } from '../../shared/scheduler.ts';
import { allocationHolder, evaluateWait, requestSeverity, sameHolders, type ConflictPatch, type WaitEvaluation } from './conflicts.ts';
import type { Core } from './core.ts';
import type { Holding, Shape } from './ledger.ts';
import type { QueueEntry } from './queue.ts';

/** Waiting requests a conflict refresh looks at per unit of refresh budget. */
const REFRESH_SCAN_PER_BUDGET = 1;

export const requestKey = (id: string) => `request:${id}`;

export class RequestConflicts {
  /** waiting requests whose conflict predates the ledger's state remain (the budget ran out) */
  pending = false;
  /** evaluations by shape key at ledger version evalVersion, and the generation before (to keep identical ones) */
  private evalCache = new Map<string, WaitEvaluation>();
  private prevEvalCache = new Map<string, WaitEvaluation>();
  private evalVersion = -1;
  private shareEpoch = -1;
  private shareCache = new WeakMap<Shape, number>();
  /** one holder object per holding (an allocation never changes node), so that equal holder lists compare by identity */
  private readonly holderObjects = new WeakMap<Holding, ConflictHolder>();
  private readonly holderOf = (h: Holding, node?: string): ConflictHolder => {
    let o = this.holderObjects.get(h);
    if (!o) this.holderObjects.set(h, (o = allocationHolder(h, node)));
    return o;
  };

  /** `budget`: evaluations and conflict_updated records per refresh (EngineOptions.refreshBudget) */
  constructor(private readonly core: Core, private readonly budget: number) {}

  /** Queue a request with its open conflict (`request_queued` unless `announce` is false, then `conflict_opened`). */
  enqueue(request: Request, now: number, announce = true): void {
    const { queue, book, changes } = this.core;
    const e = queue.insert(request, null, this.core.cluster.version);
    const ev = this.evaluation(e.shape, request.priority, e.shapeKey);
    const opened = book.openConflict({
      key: requestKey(request.id), requestId: request.id, ...ev,
      severity: this.severityOf(request, e.shape, now),
    }, now);
    e.evaluation = ev;
    queue.update(request.id, { conflict: opened.conflict });
    if (announce) changes.emit({ kind: 'request_queued', at: now, request });
    changes.emit(opened);
  }

  /**
   * Re-evaluate the conflicts of waiting requests (in the given order) whose evaluation predates the ledger's
   * state. Stops when the budget is spent (`pending`: the next tick goes on).
   */
  refresh(now: number, order: Iterable<Request>): void {
    const { cluster, queue } = this.core;
    const version = cluster.version;
    let budget = this.budget;
    // entries looked at: with thousands waiting and the cluster changing every pass, the tail is left to later
    // passes and ticks (severities are refreshed for all each tick)
    let scan = this.budget * REFRESH_SCAN_PER_BUDGET;
    this.pending = false;
    for (const r of order) {
      const e = queue.get(r.id);
      if (!e || e.evaluatedAt === version) continue;
      if (--scan < 0) {
        this.pending = true;
        break;
      }
      if (!cluster.knows(e.shape)) continue; // keep what was known (e.g. restored) until the capacity is
      if (budget <= 0) {
        this.pending = true;
        break;
      }
      let ev = this.cached(e.shapeKey);
      if (!ev) {
        budget--;
        ev = this.evaluation(e.shape, e.request.priority, e.shapeKey);
      }
      e.evaluatedAt = version;
      const severity = this.severityOf(e.request, e.shape, now);
      if (e.evaluation === ev && e.conflict?.severity === severity) continue;
      e.evaluation = ev;
      if (this.update(e, { ...ev, severity }, now)) budget--;
    }
  }

  /** Severities grow with waiting: every waiting request's conflict (each tick). */
  refreshSeverities(now: number): void {
    for (const e of this.core.queue.entries()) {
      if (!e.conflict) continue;
      const severity = this.severityOf(e.request, e.shape, now);
      if (severity !== e.conflict.severity) this.update(e, { severity }, now);
    }
  }

  private cached(key: string): WaitEvaluation | undefined {
    const version = this.core.cluster.version;
    if (this.evalVersion !== version) {
      if (this.evalCache.size) this.prevEvalCache = this.evalCache;
      this.evalCache = new Map();
      this.evalVersion = version;
    }
    return this.evalCache.get(key);
  }

  /** Evaluate and cache; an evaluation equal to the previous generation's keeps its identity (cheap "unchanged"). */
  private evaluation(shape: Shape, priority: number, key: string): WaitEvaluation {
    const cached = this.cached(key);
    if (cached) return cached;
    let ev = evaluateWait(this.core.cluster, shape, priority, this.core.strategy.name, this.holderOf);
    const prev = this.prevEvalCache.get(key);
    if (prev && prev.type === ev.type && prev.resource === ev.resource && prev.message === ev.message && sameHolders(prev.holders, ev.holders)) ev = prev;
    this.evalCache.set(key, ev);
    return ev;
  }

  /** true when the conflict changed (a record was emitted) */
  private update(e: QueueEntry, patch: ConflictPatch, now: number): boolean {
    if (!e.conflict) return false;
    const change = this.core.book.update(e.conflict.id, patch, now);
    if (!change) return false;
    this.core.changes.emit(change);
    this.core.queue.update(e.request.id, { conflict: change.conflict });
    return true;
  }

  private severityOf(r: Request, shape: Shape, now: number): number {
    return requestSeverity({ priority: r.priority, waitMs: now - r.submittedAt, share: this.shareOf(shape) }, this.core.severity);
  }

  /** A shape's dominant share of the cluster, cached (per shape object: a queue entry keeps its own) while the capacity stays the same. */
  private shareOf(shape: Shape): number {
    const epoch = this.core.cluster.capacityEpoch;
    if (epoch !== this.shareEpoch) {
      this.shareEpoch = epoch;
      this.shareCache = new WeakMap();
    }
    let v = this.shareCache.get(shape);
    if (v === undefined) this.shareCache.set(shape, (v = this.core.cluster.dominantShare(shape)));
    return v;
  }
}
