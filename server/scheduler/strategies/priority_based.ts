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
import type { Strategy, StrategyContext } from '../strategy.ts';
import { RankedStrategy, lowerPriorityVictims, multifactor, packShared, placeFirst } from './common.ts';
import { JobLengths } from './job-length.ts';

export class PriorityBased extends RankedStrategy {
  readonly name = 'priority_based' as const;
  readonly config: PriorityBasedConfig;
  override get noRoomReason(): string {
    return 'no strictly lower-priority preemptible allocation would make room';
  }

  constructor(config: unknown = {}) {
    const parsed = PriorityBasedConfigSchema.parse(config);
    super(parsed.recalcMs);
    this.config = parsed;
    this.graceMs = parsed.preemption.gracePeriodMs;
    if (parsed.preemption.enabled) this.preempts = 'lower_priority';
  }

  get reserveAfterMs(): number | null {
    return this.config.reserveAfterMs ?? null;
  }

  get maxReservations(): number {
    return this.config.maxReservations;
  }

  get maxWaitMs(): number | null {
    return this.config.maxWaitMs;
  }

  override effectivePriority(request: Request, ctx: StrategyContext): number {
    return multifactor(request, ctx, this.config, this.lengths);
  }

  /** lengths of completed jobs, for the short-job factor of requests that give none */
  private readonly lengths = new JobLengths();

  completed(request: Request, runMs: number): void {
    if (this.config.weights.shortJob > 0) this.lengths.observe(request.owner, request.resources, runMs);
  }

  place(request: Request, ctx: StrategyContext) {
    return placeFirst(request, ctx, packShared);
  }

  override preempt(request: Request, ctx: StrategyContext): PreemptionPlan | null {
    return this.config.preemption.enabled ? lowerPriorityVictims(request, ctx) : null;
  }
}

export const priorityBased = (config?: unknown): Strategy => new PriorityBased(config);
