/**
 * The one interface every scheduling strategy implements (one file each under strategies/): order the queue,
 * place a request, choose victims. Strategies are pure: they read the queue and the ledger, the engine acts.
 */
import type { Allocation, Request, StrategyName } from '../../shared/scheduler.ts';
import type { Ledger, Placement } from './ledger.ts';
import type { QueueView } from './queue.ts';

export interface Strategy {
  readonly name: StrategyName;
  /** The priority the queue's priority order uses (after aging, fair-share factors… where the strategy has them). */
  effectivePriority(request: Request, now: number): number;
  /** Waiting requests in the order the engine should try to grant them. */
  order(queue: QueueView, now: number): readonly Request[];
  /** Where `request` goes now (GPU indices), or null when it does not fit. */
  place(request: Request, ledger: Ledger): Placement | null;
  /**
   * Active allocations to preempt so that `request` fits, or null for none (no preemption). Strategies without
   * preemption return null.
   */
  chooseVictims(request: Request, ledger: Ledger, allocations: readonly Allocation[]): Allocation[] | null;
}
