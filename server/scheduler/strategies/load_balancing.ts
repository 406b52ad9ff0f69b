/**
 * load_balancing — spread. A request goes to the node with the highest LeastAllocated score
 * Σ w_r·100·(cap_r − used_r − req_r)/cap_r ÷ Σ w_r plus `balancedWeight` × BalancedAllocation (1 − std(f_r))·100,
 * where a GPU's "used" is the larger of what is allocated on it and its live utilisation from the monitor
 * (× `utilisationWeight`): a GPU busy at 90 % is not free even when nothing is allocated on it. GPUs at or above
 * `busyPercent` are not offered. Within a node: the least utilised free GPUs; fractional requests onto the GPU with
 * the most room. Order: priority, then submit time. Defaults: shared/strategy.ts LoadBalancingConfigSchema.
 */
import type { Request } from '../../../shared/scheduler.ts';
import { LoadBalancingConfigSchema, type LoadBalancingConfig } from '../../../shared/strategy.ts';
import type { GpuSlot, Ledger } from '../ledger.ts';
import type { Strategy, StrategyContext } from '../strategy.ts';
import { RankedStrategy, balanced, fractionsAfter, leastAllocated, placeBest, spreadPicker } from './common.ts';

export class LoadBalancing extends RankedStrategy {
  readonly name = 'load_balancing' as const;
  readonly config: LoadBalancingConfig;
  override readonly usesUtilisation = true;

  constructor(config: unknown = {}) {
    super();
    this.config = LoadBalancingConfigSchema.parse(config);
  }

  place(request: Request, ctx: StrategyContext) {
    const c = this.config;
    const utilOf = (l: Pick<Ledger, 'node'>) => (s: GpuSlot) => (ctx.gpuUtilisation(l.node, s.index) ?? 0) / 100;
    return placeBest(request, ctx, (l, shape) => {
      const util = utilOf(l);
      const f = fractionsAfter(l, shape, (s) => util(s) * c.utilisationWeight);
      return leastAllocated(f, c.weights) + c.balancedWeight * balanced([f.cpu, f.memory, f.gpu]);
    }, (shape, l) => spreadPicker(utilOf(l), c.busyPercent / 100)(shape, l));
  }

}

export const loadBalancing = (config?: unknown): Strategy => new LoadBalancing(config);
