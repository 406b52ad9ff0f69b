/**
 * fair_sharing — Dominant Resource Fairness per owner, and per group when requests name one: the dominant share
 * s = max_r(u_r / cap_r) over cpu, memory and GPUs, with u_r held now plus usage decayed by `halfLifeMs` (see
 * usage.ts), divided by the owner's (group's) weight. Each step of a pass offers the cluster to the entity with the
 * lowest weighted dominant share: its requests (highest priority, then oldest first) are tried until one fits; after
 * a grant its share is recomputed and the lowest entity goes next. Within a group, its owners' requests go by the
 * owners' own shares at the start of the pass.
 * Preemption (YARN's rule, off by default): when the cluster's GPU (else cpu) utilisation is at or above
 * `utilisationThreshold` and the request has waited `starvedForMs` while its owner holds less than half its fair
 * share (weight ÷ the weights of the owners holding or waiting), holders of owners above their fair share are
 * preempted (kube-scheduler's victim choice among them). Placement: first fit, fractional requests packed.
 * Defaults: shared/strategy.ts FairSharingConfigSchema.
 */
import type { Request } from '../../../shared/scheduler.ts';
import { FairSharingConfigSchema, type FairSharingConfig } from '../../../shared/strategy.ts';
import type { PreemptionPlan } from '../cluster.ts';
import { shapeOf } from '../ledger.ts';
import type { QueueView } from '../queue.ts';
import type { Strategy, StrategyContext } from '../strategy.ts';
import { NO_SLICING, grantOrder, packShared, placeFirst } from './common.ts';

interface Entity {
  key: string;
  weight: number;
  requests: Request[];
  next: number;
  share: number;
}

export class FairSharing implements Strategy {
  readonly name = 'fair_sharing' as const;
  readonly config: FairSharingConfig;
  readonly graceMs: number;
  readonly replicas = 1;
  readonly multiSlot = false;
  readonly quantumMs = null;
  readonly sliced = NO_SLICING.sliced;
  readonly sliceRank = NO_SLICING.sliceRank;

  constructor(config: unknown = {}) {
    this.config = FairSharingConfigSchema.parse(config);
    this.graceMs = this.config.preemption.gracePeriodMs;
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
  effectivePriority(request: Request, ctx: StrategyContext): number {
    return -this.shareOf(request, ctx);
  }

  *order(queue: QueueView, ctx: StrategyContext): Generator<Request> {
    const entities = new Map<string, Entity>();
    const ownerShare = new Map<string, number>();
    const shareOfOwner = (o: string) => {
      let s = ownerShare.get(o);
      if (s === undefined) ownerShare.set(o, (s = ctx.usage.dominantShare(`owner:${o}`, ctx.now) / this.ownerWeight(o)));
      return s;
    };
    for (const r of queue.requests()) {
      const key = r.group !== undefined ? `group:${r.group}` : `owner:${r.owner}`;
      let e = entities.get(key);
      if (!e) {
        const weight = r.group !== undefined ? this.groupWeight(r.group) : this.ownerWeight(r.owner);
        entities.set(key, (e = { key, weight, requests: [], next: 0, share: ctx.usage.dominantShare(key, ctx.now) / weight }));
      }
      e.requests.push(r);
    }
    const heap: Entity[] = [];
    for (const e of entities.values()) {
      if (e.key.startsWith('group:')) e.requests.sort((a, b) => shareOfOwner(a.owner) - shareOfOwner(b.owner) || grantOrder(a, b));
      else e.requests.sort(grantOrder);
      heap.push(e);
    }
    const less = (a: Entity, b: Entity) => a.share < b.share || (a.share === b.share && a.key < b.key);
    heap.sort((a, b) => (less(a, b) ? -1 : less(b, a) ? 1 : 0));
    // a sorted array is the heap: entities are few (owners/groups), re-inserted by binary search
    while (heap.length) {
      const e = heap.shift()!;
      while (e.next < e.requests.length) {
        const r = e.requests[e.next++]!;
        if (!queue.has(r.id)) continue;
        yield r;
        if (!queue.has(r.id)) {
          // granted: its share grew; the lowest entity goes next
          e.share = ctx.usage.dominantShare(e.key, ctx.now) / e.weight;
          break;
        }
      }
      if (e.next < e.requests.length) {
        let lo = 0;
        let hi = heap.length;
        while (lo < hi) {
          const mid = (lo + hi) >> 1;
          if (less(heap[mid]!, e)) lo = mid + 1;
          else hi = mid;
        }
        heap.splice(lo, 0, e);
      }
    }
  }

  place(request: Request, ctx: StrategyContext) {
    return placeFirst(request, ctx, packShared);
  }

  preempt(request: Request, ctx: StrategyContext): PreemptionPlan | null {
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
    const plan = ctx.cluster.preemptionPlan(shapeOf(request.resources), Number.POSITIVE_INFINITY,
      (h) => h.owner !== request.owner && !ctx.preempting(h.allocationId) && shareNow(h.owner) > fair(h.owner));
    return plan && plan.victims.length ? plan : null;
  }
}

export const fairSharing = (config?: unknown): Strategy => new FairSharing(config);
