/**
 * The strategy names, for menus. shared/scheduler.ts has them as a zod enum; importing that value would pull zod
 * into the bundle, so the list is repeated here and checked against the shared type at compile time.
 */
import type { StrategyName } from '../../../shared/scheduler.ts';

export const STRATEGIES = ['priority_based', 'fair_sharing', 'time_slicing', 'resource_pooling', 'load_balancing', 'hybrid'] as const satisfies readonly StrategyName[];

// every shared name is in the list (a new strategy breaks the build here until it is added)
type Missing = Exclude<StrategyName, (typeof STRATEGIES)[number]>;
export const ALL_STRATEGIES_LISTED: Missing extends never ? true : never = true;

/** `fair_sharing` → `fair sharing` */
export function strategyLabel(name: string): string {
  return name.replace(/_/g, ' ');
}
