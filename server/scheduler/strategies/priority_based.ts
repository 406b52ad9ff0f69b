/**
 * priority_based — Slurm's multifactor priority: prio = Σ w·f over age min(1, wait/maxAge), the request's priority
 * normalised, size (dominant share of the cluster) and fair-share 2^(−U/S); ties by submit time, then id.
 * Recomputed every `recalcMs`. Placement: first fit by node and GPU index; a fractional request is packed onto an
 * already shared GPU before it opens a whole one. Preemption as kube-scheduler does it (see common.ts and
 * Cluster.preemptionPlan): only strictly lower-priority preemptible holders, after a grace period with a notice.
 * Defaults: shared/strategy.ts PriorityBasedConfigSchema.
 */
import type { Request } from '../../../shared/scheduler.ts';
import { PriorityBasedConfigSchema, type PriorityBasedConfig } from '../../../shared/strategy.ts';
import type { PreemptionPlan } from '../cluster.ts';
import type { QueueView } from '../queue.ts';
import type { Strategy, StrategyContext } from '../strategy.ts';
import { NO_SLICING, RankedOrder, lowerPriorityVictims, multifactor, packShared, placeFirst } from './common.ts';

export class PriorityBased implements Strategy {
  readonly name = 'priority_based' as const;
  readonly config: PriorityBasedConfig;
  readonly graceMs: number;
  readonly replicas = 1;
  readonly multiSlot = false;
  readonly quantumMs = null;
  readonly sliced = NO_SLICING.sliced;
  readonly sliceRank = NO_SLICING.sliceRank;
  private readonly ranked: RankedOrder;

  constructor(config: unknown = {}) {
    this.config = PriorityBasedConfigSchema.parse(config);
    this.graceMs = this.config.preemption.gracePeriodMs;
    this.ranked = new RankedOrder((r, ctx) => this.effectivePriority(r, ctx), this.config.recalcMs);
  }

  effectivePriority(request: Request, ctx: StrategyContext): number {
    return multifactor(request, ctx, this.config);
  }

  order(queue: QueueView, ctx: StrategyContext): Iterable<Request> {
    return this.ranked.order(queue, ctx);
  }

  among(queue: QueueView, ctx: StrategyContext, keys: ReadonlySet<string>): Iterable<Request> {
    return this.ranked.among(queue, ctx, keys);
  }

  place(request: Request, ctx: StrategyContext) {
    return placeFirst(request, ctx, packShared);
  }

  preempt(request: Request, ctx: StrategyContext): PreemptionPlan | null {
    return this.config.preemption.enabled ? lowerPriorityVictims(request, ctx) : null;
  }
}

export const priorityBased = (config?: unknown): Strategy => new PriorityBased(config);
