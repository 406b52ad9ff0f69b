/**
 * fair_sharing — Dominant Resource Fairness per owner, and per group when requests name one: the dominant share
 * s = max_r(u_r / cap_r) over cpu, memory and GPUs, with u_r held now plus usage decayed by `halfLifeMs` (see
 * usage.ts), divided by the owner's (group's) weight. Each step of a pass offers the cluster to the entity with the
 * lowest weighted dominant share: its requests (highest priority, then oldest first) are tried until one fits; after
 * a grant its share is recomputed and the lowest entity goes next. Within a group, the owner with the lowest share
 * goes first. The per-owner lists are kept across passes (new requests inserted in order), so a pass costs what it
 * walks, not a sort of the queue.
 * Preemption (YARN's rule, off by default): when the cluster's GPU (else cpu) utilisation is at or above
 * `utilisationThreshold` and the request has waited `starvedForMs` while its owner holds less than half its fair
 * share (weight ÷ the weights of the owners holding or waiting), holders of owners above their fair share are
 * preempted (kube-scheduler's victim choice among them). Placement: first fit, fractional requests packed.
 * Defaults: shared/strategy.ts FairSharingConfigSchema.
 */
import type { Request } from '../../../shared/scheduler.ts';
import { FairSharingConfigSchema, type FairSharingConfig } from '../../../shared/strategy.ts';
import type { PreemptionPlan } from '../cluster.ts';
import { requestShape } from '../ledger.ts';
import type { QueueView } from '../queue.ts';
import type { Strategy, StrategyContext } from '../strategy.ts';
import { BaseStrategy, grantOrder, insertSorted, packShared, placeFirst } from './common.ts';

/** Waiting requests of one owner, best first (grantOrder), kept across passes. */
class OwnerList {
  ids: string[] = [];
  /** per-pass cursor */
  next = 0;
  /** the same, per shape key (QueueEntry.shapeKey), for passes over the shapes that fit */
  byKey = new Map<string, string[]>();
  keyNext = new Map<string, number>();
  constructor(readonly owner: string) {}
}

/** An owner, or a group with its owners: what DRF offers the cluster to. */
interface Entity {
  key: string;
  group: string | undefined;
  /** owner → its list (one for an ungrouped owner) */
  owners: Map<string, OwnerList>;
  share: number;
}

export class FairSharing extends BaseStrategy {
  readonly name = 'fair_sharing' as const;
  readonly config: FairSharingConfig;
  override get noRoomReason(): string {
    return 'fair-share preemption is off or the owner is not starved below half its share';
  }

  constructor(config: unknown = {}) {
    super();
    this.config = FairSharingConfigSchema.parse(config);
    this.graceMs = this.config.preemption.gracePeriodMs;
    if (this.config.preemption.enabled) this.preempts = 'any';
  }

  ownerWeight(owner: string): number {
    return this.config.ownerWeights[owner] ?? this.config.defaultWeight;
  }

  groupWeight(group: string): number {
    return this.config.groupWeights[group] ?? this.config.defaultWeight;
  }

  /** The weighted dominant share of a request's entity (its group when it names one, else its owner). */
  shareOf(r: Request, ctx: StrategyContext): number {
    return r.group !== undefined
      ? ctx.usage.dominantShare(`group:${r.group}`, ctx.now) / this.groupWeight(r.group)
      : ctx.usage.dominantShare(`owner:${r.owner}`, ctx.now) / this.ownerWeight(r.owner);
  }

  /** Lower share ranks higher: the queue's priority order shows who DRF serves next. */
  override effectivePriority(request: Request, ctx: StrategyContext): number {
    return -this.shareOf(request, ctx);
  }

  private entities = new Map<string, Entity>();
  private requestOf = new Map<string, { entity: string; owner: string; priority: number; submittedAt: number }>();
  private seen = -1;

  /** Bring the per-owner lists up to date with the queue: new requests by binary insertion, the rest kept. */
  private sync(queue: QueueView): void {
    const fresh = this.seen === -1 ? null : queue.insertedSince(this.seen);
    if (fresh === null) {
      this.entities = new Map();
      this.requestOf = new Map();
      for (const r of queue.requests()) this.add(r, queue.get(r.id)!.shapeKey);
      for (const e of this.entities.values()) {
        for (const l of e.owners.values()) {
          l.ids.sort((a, b) => this.cmp(a, b));
          for (const list of l.byKey.values()) list.sort((a, b) => this.cmp(a, b));
        }
      }
    } else {
      for (const id of fresh) {
        const e = queue.get(id);
        if (e && !this.requestOf.has(id)) this.add(e.request, e.shapeKey, true);
      }
    }
    this.seen = queue.insertions;
    // requests granted or cancelled since: dropped from the lists (compacted when they are as many as the living)
    if (this.requestOf.size > 2 * queue.size + 64) {
      for (const [id] of this.requestOf) if (!queue.has(id)) this.requestOf.delete(id);
      for (const [k, e] of this.entities) {
        for (const [o, l] of e.owners) {
          l.ids = l.ids.filter((id) => this.requestOf.has(id));
          for (const [k, list] of l.byKey) {
            const live = list.filter((id) => this.requestOf.has(id));
            if (live.length) l.byKey.set(k, live);
            else l.byKey.delete(k);
          }
          if (!l.ids.length) e.owners.delete(o);
        }
        if (!e.owners.size) this.entities.delete(k);
      }
    }
  }

  private add(r: Request, shapeKey: string, sorted = false): void {
    const key = r.group !== undefined ? `group:${r.group}` : `owner:${r.owner}`;
    let e = this.entities.get(key);
    if (!e) this.entities.set(key, (e = { key, group: r.group, owners: new Map(), share: 0 }));
    let l = e.owners.get(r.owner);
    if (!l) e.owners.set(r.owner, (l = new OwnerList(r.owner)));
    this.requestOf.set(r.id, { entity: key, owner: r.owner, priority: r.priority, submittedAt: r.submittedAt });
    let byKey = l.byKey.get(shapeKey);
    if (!byKey) l.byKey.set(shapeKey, (byKey = []));
    if (!sorted) {
      l.ids.push(r.id);
      byKey.push(r.id);
      return;
    }
    const cmp = (a: string, b: string) => this.cmp(a, b);
    insertSorted(l.ids, r.id, cmp);
    insertSorted(byKey, r.id, cmp);
  }


  /** grantOrder on ids: higher priority, then earlier submit, then id. */
  private cmp(a: string, b: string): number {
    const x = this.requestOf.get(a)!;
    const y = this.requestOf.get(b)!;
    return y.priority - x.priority || x.submittedAt - y.submittedAt || (a < b ? -1 : a > b ? 1 : 0);
  }

  private entityShare(e: Entity, ctx: StrategyContext): number {
    return e.group !== undefined
      ? ctx.usage.dominantShare(e.key, ctx.now) / this.groupWeight(e.group)
      : ctx.usage.dominantShare(e.key, ctx.now) / this.ownerWeight(e.key.slice(6));
  }

  /** The next waiting request of a list at its cursor (dropping the granted ones at its front for good). */
  private head(l: OwnerList, queue: QueueView): Request | null {
    // (their bookkeeping stays until the next compaction: the per-key lists may still hold them)
    while (l.next === 0 && l.ids.length && !queue.has(l.ids[0]!)) l.ids.shift();
    while (l.next < l.ids.length) {
      const e = queue.get(l.ids[l.next]!);
      if (e) return e.request;
      l.next++;
    }
    return null;
  }

  /** The owner's best waiting request among the shape keys in `keys` (and which key list it heads), or null. */
  private headAmong(l: OwnerList, queue: QueueView, keys: ReadonlySet<string>): { r: Request; key: string } | null {
    let best: { r: Request; key: string } | null = null;
    for (const [key, list] of l.byKey) {
      if (!keys.has(key)) continue;
      let i = l.keyNext.get(key) ?? 0;
      while (i < list.length && !queue.has(list[i]!)) i++;
      l.keyNext.set(key, i);
      if (i >= list.length) continue;
      const e = queue.get(list[i]!)!;
      if (!best || this.cmp(e.request.id, best.r.id) < 0) best = { r: e.request, key };
    }
    return best;
  }

  order(queue: QueueView, ctx: StrategyContext): Generator<Request> {
    return this.walk(queue, ctx, null);
  }

  /** The same DRF order over the requests whose shape key is in `keys` (read at every step). */
  among(queue: QueueView, ctx: StrategyContext, keys: ReadonlySet<string>): Generator<Request> {
    return this.walk(queue, ctx, keys);
  }

  private *walk(queue: QueueView, ctx: StrategyContext, keys: ReadonlySet<string> | null): Generator<Request> {
    this.sync(queue);
    const heap: Entity[] = [];
    for (const e of this.entities.values()) {
      e.share = this.entityShare(e, ctx);
      for (const l of e.owners.values()) {
        l.next = 0;
        l.keyNext.clear();
      }
      heap.push(e);
    }
    // lowest weighted share first, ties by key (entities are distinct: no two compare equal)
    const byShare = (a: Entity, b: Entity) => a.share - b.share || (a.key < b.key ? -1 : a.key > b.key ? 1 : 0);
    heap.sort(byShare);
    // few entities (owners, groups): a sorted array is the heap, re-inserted by binary search
    while (heap.length) {
      const e = heap.shift()!;
      let more = false;
      for (;;) {
        // within a group, the owner with the lowest share that still has a candidate
        let best: OwnerList | null = null;
        let bestShare = Infinity;
        let r: Request | null = null;
        let fromKey: string | null = null;
        for (const l of e.owners.values()) {
          const h = keys ? this.headAmong(l, queue, keys) : null;
          const req = keys ? (h?.r ?? null) : this.head(l, queue);
          if (!req) continue;
          const sh = e.owners.size === 1 ? 0 : ctx.usage.dominantShare(`owner:${l.owner}`, ctx.now) / this.ownerWeight(l.owner);
          if (sh < bestShare || (sh === bestShare && best && l.owner < best.owner)) {
            best = l;
            bestShare = sh;
            r = req;
            fromKey = h?.key ?? null;
          }
        }
        if (!best || !r) break;
        yield r;
        if (!queue.has(r.id)) {
          // granted: its share grew; the lowest entity goes next
          e.share = this.entityShare(e, ctx);
          more = true;
          break;
        }
        if (fromKey !== null) best.keyNext.set(fromKey, (best.keyNext.get(fromKey) ?? 0) + 1);
        else best.next++;
      }
      if (more) insertSorted(heap, e, byShare);
    }
  }

  place(request: Request, ctx: StrategyContext) {
    return placeFirst(request, ctx, packShared);
  }

  override preempt(request: Request, ctx: StrategyContext): PreemptionPlan | null {
    const p = this.config.preemption;
    if (!p.enabled || ctx.now - request.submittedAt < p.starvedForMs) return null;
    const cap = ctx.cluster.capacity;
    let used = 0;
    let total = 0;
    for (const l of ctx.cluster.ledgers()) {
      const c = l.capacity;
      if (cap.gpus) {
        total += c.gpus ?? 0;
        used += (c.gpus ?? 0) - l.wholeFreeGpus;
      } else {
        total += c.cpu ?? 0;
        used += l.used.cpu;
      }
    }
    if (!total || used / total < p.utilisationThreshold) return null;
    // fair share: weight ÷ the weights of the owners holding or waiting
    const owners = new Set<string>([request.owner]);
    for (const h of ctx.cluster.holdings()) owners.add(h.owner);
    let weights = 0;
    for (const o of owners) weights += this.ownerWeight(o);
    const fair = (o: string) => this.ownerWeight(o) / weights;
    const shareNow = (o: string) => ctx.usage.dominantShare(`owner:${o}`, ctx.now);
    if (shareNow(request.owner) >= fair(request.owner) / 2) return null;
    const plan = ctx.cluster.preemptionPlan(requestShape(request), Number.POSITIVE_INFINITY,
      (h) => h.owner !== request.owner && !ctx.preempting(h.allocationId) && shareNow(h.owner) > fair(h.owner));
    return plan && plan.victims.length ? plan : null;
  }
}

export const fairSharing = (config?: unknown): Strategy => new FairSharing(config);
