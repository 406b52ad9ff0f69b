/**
 * FGD as a strategy's placement (`placementMethod: 'fgd'` of resource_pooling and hybrid): the workload's
 * distribution of requests is learned from the requests the strategy is asked to place (each counted once), and a
 * request goes where the fragmentation for that distribution grows least (placement/fgd.ts). The fragmentation of
 * node states is remembered for one distribution; it is taken afresh when the requests seen have grown by 25 % (or
 * by one, while few), so that a busy cluster does not measure every node again for every new request.
 * Ties are broken by a fixed-seed random source: the same decisions on every run. `fgdWeighting` as in
 * placement/fragmentation.ts.
 */
import type { Request } from '../../../shared/scheduler.ts';
import { rng } from '../../rng.ts';
import type { Placement } from '../cluster.ts';
import { requestShape } from '../ledger.ts';
import { fgd } from '../placement/fgd.ts';
import { FragmentationMemo, WorkloadDistribution, weighTypes, type FgdWeighting } from '../placement/fragmentation.ts';
import type { StrategyContext } from '../strategy.ts';

export class FragmentationAwarePlacement {
  private readonly seen = new WorkloadDistribution();
  private memo: FragmentationMemo | null = null;
  /** observations the memo's distribution was taken at */
  private basis = 0;
  private readonly random = rng(0x46_47_44);

  constructor(private readonly weighting: FgdWeighting = 'count') {}

  place(request: Request, ctx: StrategyContext): Placement | null {
    const shape = requestShape(request);
    this.seen.observe(shape, request.id);
    const n = this.seen.version;
    if (!this.memo || n - this.basis >= Math.max(1, 0.25 * this.basis)) {
      // by demand, a share counts as its part of the largest GPU
      let gpuMiB = 1;
      for (const l of ctx.cluster.ledgers()) for (const g of l.slots()) gpuMiB = Math.max(gpuMiB, g.memoryMiB);
      this.memo = new FragmentationMemo(weighTypes(this.seen.types(), this.weighting, gpuMiB));
      this.basis = n;
    }
    return fgd(shape, { ledgers: ctx.cluster.placeableFor(shape), random: this.random, memo: this.memo });
  }
}
