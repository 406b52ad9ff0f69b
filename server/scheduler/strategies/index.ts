/** The six strategies by their canonical names. */
import type { StrategyName } from '../../../shared/scheduler.ts';
import type { Strategy, StrategyFactory } from '../strategy.ts';
import { fairSharing } from './fair_sharing.ts';
import { hybrid } from './hybrid.ts';
import { loadBalancing } from './load_balancing.ts';
import { priorityBased } from './priority_based.ts';
import { resourcePooling } from './resource_pooling.ts';
import { timeSlicing } from './time_slicing.ts';

export const STRATEGIES: Record<StrategyName, StrategyFactory> = {
  priority_based: priorityBased,
  fair_sharing: fairSharing,
  time_slicing: timeSlicing,
  resource_pooling: resourcePooling,
  load_balancing: loadBalancing,
  hybrid,
};

/** A strategy with its config parsed by its schema (throws the ZodError on a bad config). */
export function createStrategy(name: StrategyName, config?: unknown): Strategy {
  return STRATEGIES[name](config ?? {});
}
