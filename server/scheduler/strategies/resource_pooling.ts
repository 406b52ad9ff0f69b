/**
 * resource_pooling — bin-packing. A request goes to the node where kube-scheduler's MostAllocated score
 * Σ w_r·100·(used_r + req_r)/cap_r ÷ Σ w_r (with the request included) is highest, so busy nodes fill up and empty
 * ones stay empty for large requests; within a node, a fractional request goes onto the already-shared GPU with the
 * least room left that fits (best fit) and whole GPUs stay whole; with `placementMethod: 'fgd'`, where the
 * fragmentation for the requests seen so far grows least instead (fragmentation-aware.ts). Order: priority, then
 * submit time.
 * Pooled group quotas (`groupQuotas`, in GPUs): a group within its quota is served as usual; beyond it (or a group
 * without a quota, when quotas are set) it borrows idle quota when `lendIdleQuota`, and what it borrowed is
 * preempted (after `gracePeriodMs`) when a group within its quota needs it back.
 * Defaults: shared/strategy.ts ResourcePoolingConfigSchema.
 */
import type { Request } from '../../../shared/scheduler.ts';
import { ResourcePoolingConfigSchema, type ResourcePoolingConfig } from '../../../shared/strategy.ts';
import type { PreemptionPlan } from '../cluster.ts';
import { requestShape } from '../ledger.ts';
import type { Strategy, StrategyContext } from '../strategy.ts';
import { RankedStrategy, bestFitShared, fractionsAfter, mostAllocated, placeBest } from './common.ts';
import { FragmentationAwarePlacement } from './fragmentation-aware.ts';

export class ResourcePooling extends RankedStrategy {
  readonly name = 'resource_pooling' as const;
  readonly config: ResourcePoolingConfig;
  override get noRoomReason(): string {
    return 'no group borrows beyond its quota where the request would fit';
  }
  private readonly hasQuotas: boolean;
  private readonly fgd: FragmentationAwarePlacement | null;

  constructor(config: unknown = {}) {
    super();
    this.config = ResourcePoolingConfigSchema.parse(config);
    this.graceMs = this.config.gracePeriodMs;
    this.hasQuotas = Object.keys(this.config.groupQuotas).length > 0;
    if (this.hasQuotas) this.preempts = 'any';
    this.fgd = this.config.placementMethod === 'fgd' ? new FragmentationAwarePlacement(this.config.fgdWeighting) : null;
  }


  /** GPUs a group may hold without borrowing (0 for a group without a quota). */
  quotaOf(group: string | undefined): number {
    return group === undefined ? 0 : this.config.groupQuotas[group]?.gpus ?? 0;
  }

  /** The request stays within its group's quota. */
  withinQuota(r: Request, ctx: StrategyContext): boolean {
    if (!this.hasQuotas) return true;
    const held = r.group === undefined ? 0 : ctx.usage.held(`group:${r.group}`).gpus;
    const want = r.resources.gpus + ((r.resources.gpuMemMiB ?? 0) > 0 ? 1 : 0);
    return held + want <= this.quotaOf(r.group);
  }

  place(request: Request, ctx: StrategyContext) {
    if (!this.withinQuota(request, ctx) && !this.config.lendIdleQuota) return null;
    if (this.fgd) return this.fgd.place(request, ctx);
    return placeBest(request, ctx, (l, shape) => mostAllocated(fractionsAfter(l, shape), this.config.weights), bestFitShared);
  }

  /** A group within its quota takes back what groups over their quota borrowed. */
  override preempt(request: Request, ctx: StrategyContext): PreemptionPlan | null {
    if (!this.hasQuotas || !this.withinQuota(request, ctx)) return null;
    const over = (g: string | undefined) => (g === undefined ? 0 : ctx.usage.held(`group:${g}`).gpus) > this.quotaOf(g);
    const plan = ctx.cluster.preemptionPlan(requestShape(request), Number.POSITIVE_INFINITY,
      (h) => h.gpuIndices.length > 0 && h.group !== request.group && over(h.group) && !ctx.preempting(h.allocationId));
    return plan && plan.victims.length ? plan : null;
  }
}

export const resourcePooling = (config?: unknown): Strategy => new ResourcePooling(config);
