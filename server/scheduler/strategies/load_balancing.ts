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
import type { QueueView } from '../queue.ts';
import type { Strategy, StrategyContext } from '../strategy.ts';
import { NO_SLICING, RankedOrder, balanced, fractionsAfter, leastAllocated, placeBest, spreadPicker } from './common.ts';

export class LoadBalancing implements Strategy {
  readonly name = 'load_balancing' as const;
  readonly config: LoadBalancingConfig;
  readonly graceMs = 0;
  readonly replicas = 1;
  readonly multiSlot = false;
  readonly quantumMs = null;
  readonly usesUtilisation = true;
  readonly sliced = NO_SLICING.sliced;
  readonly sliceRank = NO_SLICING.sliceRank;
  private readonly ranked = new RankedOrder((r) => r.priority);

  constructor(config: unknown = {}) {
    this.config = LoadBalancingConfigSchema.parse(config);
  }

  effectivePriority(request: Request): number {
    return request.priority;
  }

  order(queue: QueueView, ctx: StrategyContext): Iterable<Request> {
    return this.ranked.order(queue, ctx);
  }

  among(queue: QueueView, ctx: StrategyContext, keys: ReadonlySet<string>): Iterable<Request> {
    return this.ranked.among(queue, ctx, keys);
  }

  place(request: Request, ctx: StrategyContext) {
    const c = this.config;
    const utilOf = (l: Ledger) => (s: GpuSlot) => (ctx.gpuUtilisation(l.node, s.index) ?? 0) / 100;
    return placeBest(request, ctx, (l, shape) => {
      const f = fractionsAfter(l, shape, (s) => utilOf(l)(s) * c.utilisationWeight);
      return leastAllocated(f, c.weights) + c.balancedWeight * balanced([f.cpu, f.memory, f.gpu]);
    }, (shape, l) => spreadPicker(utilOf(l), c.busyPercent / 100)(shape, l));
  }

  preempt(): null {
    return null;
  }
}

export const loadBalancing = (config?: unknown): Strategy => new LoadBalancing(config);
