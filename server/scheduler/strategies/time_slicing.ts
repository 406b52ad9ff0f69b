/**
 * time_slicing — GPUs shared in time. Each GPU advertises `replicas` slots (NVIDIA's time-slicing model: no memory
 * isolation, so a request takes slots of distinct GPUs unless `allowMultiSlot`). When GPU requests wait, the engine
 * rotates holders every `quantumMs` in Tiresias' discretised least-attained-service order: attained service =
 * GPUs × run time; queue index = number of `queueThresholds` at or below it; first queue first, FIFO (submit time)
 * within a queue; a suspended or waiting request whose wait exceeds `starvationFactor` × its run time (and
 * `starveMinMs`) is promoted to the first queue. Each rotation pushes `allocation_suspended` / `allocation_resumed`
 * for the allocations it pauses and resumes (the worker backend pauses/unpauses them). Waiting requests are tried in
 * arrival order; placement onto the GPUs with the most free slots. No preemption: rotation is how it makes room.
 * Defaults: shared/strategy.ts TimeSlicingConfigSchema.
 */
import type { Request } from '../../../shared/scheduler.ts';
import { TimeSlicingConfigSchema, type TimeSlicingConfig } from '../../../shared/strategy.ts';
import type { QueueView } from '../queue.ts';
import type { SliceCandidate, Strategy, StrategyContext } from '../strategy.ts';
import { BaseStrategy, fewestHolders, placeFirst } from './common.ts';

/** Tiresias' rank: queue index (after anti-starvation promotion) × 2^53-ish, then submit time. Lower runs first. */
export function lasRank(c: SliceCandidate, now: number, cfg: { queueThresholds: readonly number[]; starvationFactor: number; starveMinMs: number }): number {
  let q = 0;
  for (const t of cfg.queueThresholds) if (c.attainedMs >= t) q++;
  if (c.waitingSince !== null) {
    const waited = now - c.waitingSince;
    if (waited >= cfg.starveMinMs && waited >= cfg.starvationFactor * c.runMs) q = 0;
  }
  return q * 1e15 + c.request.submittedAt;
}

export const isGpuRequest = (r: Request): boolean => r.resources.gpus > 0 || (r.resources.gpuMemMiB ?? 0) > 0;

export class TimeSlicing extends BaseStrategy {
  readonly name = 'time_slicing' as const;
  readonly config: TimeSlicingConfig;

  constructor(config: unknown = {}) {
    super();
    this.config = TimeSlicingConfigSchema.parse(config);
    this.replicas = this.config.replicas;
    this.multiSlot = this.config.allowMultiSlot;
    this.quantumMs = this.config.quantumMs;
  }

  order(queue: QueueView): Iterable<Request> {
    return queue.requests();
  }

  among(queue: QueueView, _ctx: StrategyContext, keys: ReadonlySet<string>): Iterable<Request> {
    return queue.fifoAmong(keys);
  }

  place(request: Request, ctx: StrategyContext) {
    return placeFirst(request, ctx, fewestHolders);
  }


  override sliced(r: Request): boolean {
    return isGpuRequest(r);
  }

  override sliceRank(c: SliceCandidate, now: number): number {
    return lasRank(c, now, this.config);
  }
}

export const timeSlicing = (config?: unknown): Strategy => new TimeSlicing(config);
