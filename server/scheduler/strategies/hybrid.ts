/**
 * hybrid — ordering by Slurm's multifactor priority whose fair-share factor is DRF's: 2^(−U/S) with U the owner's
 * weighted dominant share ÷ all owners', plus age and the request's priority (recomputed every `recalcMs`);
 * placement MostAllocated on GPUs (packs GPUs, keeps whole ones whole) and BalancedAllocation on cpu/memory, or
 * with `placementMethod: 'fgd'` fragmentation gradient descent (fragmentation-aware.ts);
 * time-slicing rotation (Tiresias LAS, as time_slicing) only for requests of at most `timeSliceMaxGpus` GPUs;
 * kube-scheduler preemption of strictly lower-priority preemptible holders. Defaults: shared/strategy.ts
 * HybridConfigSchema.
 */
import type { Request } from '../../../shared/scheduler.ts';
import { HybridConfigSchema, TimeSlicingConfigSchema, type HybridConfig } from '../../../shared/strategy.ts';
import type { PreemptionPlan } from '../cluster.ts';
import { requestShape } from '../ledger.ts';
import type { SliceCandidate, Strategy, StrategyContext } from '../strategy.ts';
import { RankedStrategy, balanced, bestFitShared, clamp01, fractionsAfter, lowerPriorityVictims, mostAllocated, placeBest } from './common.ts';
import { FragmentationAwarePlacement } from './fragmentation-aware.ts';
import { JobLengths, shortness } from './job-length.ts';
import { isGpuRequest, lasRank } from './time_slicing.ts';

const LAS = TimeSlicingConfigSchema.parse({});

export class Hybrid extends RankedStrategy {
  readonly name = 'hybrid' as const;
  readonly config: HybridConfig;
  override get noRoomReason(): string {
    return 'no strictly lower-priority preemptible allocation would make room';
  }

  constructor(config: unknown = {}) {
    const parsed = HybridConfigSchema.parse(config);
    super(parsed.recalcMs);
    this.config = parsed;
    this.graceMs = this.config.preemption.gracePeriodMs;
    if (this.config.preemption.enabled) this.preempts = 'lower_priority';
    this.quantumMs = this.config.timeSliceMaxGpus > 0 ? this.config.quantumMs : null;
    this.fgd = this.config.placementMethod === 'fgd' ? new FragmentationAwarePlacement(this.config.fgdWeighting) : null;
  }

  private readonly fgd: FragmentationAwarePlacement | null;
  /** lengths of completed jobs, for the short-job factor of requests that give none */
  private readonly lengths = new JobLengths();

  completed(request: Request, runMs: number): void {
    if (this.config.weights.shortJob > 0) this.lengths.observe(request.owner, request.resources, runMs);
  }

  override effectivePriority(r: Request, ctx: StrategyContext): number {
    const c = this.config;
    const w = c.weights;
    let prio = w.age * clamp01((ctx.now - r.submittedAt) / c.maxAgeMs) + w.priority * clamp01(0.5 + r.priority / (2 * c.priorityScale));
    if (w.fairShare > 0) prio += w.fairShare * this.drfFactor(r.owner, ctx);
    if (w.size > 0) prio += w.size * clamp01(ctx.cluster.dominantShare(requestShape(r)));
    if (w.shortJob > 0) prio += w.shortJob * shortness(r, c.maxDurationMs, this.lengths);
    return prio;
  }

  /** 2^(−U/S): U = the owner's weighted dominant share ÷ the sum over owners, S = its weight ÷ all weights. */
  private drfFactor(owner: string, ctx: StrategyContext): number {
    const weightOf = (o: string) => this.config.ownerWeights[o] ?? 1;
    const t = this.drfTotals(ctx);
    const mine = t.shares.get(owner);
    const weights = t.weights + (mine === undefined ? weightOf(owner) : 0);
    if (t.total <= 0) return 1;
    return Math.pow(2, -((mine ?? 0) / t.total) / (weightOf(owner) / weights));
  }

  /** Every owner's dominant share and their sums, once per instant and usage change (a pass scores many requests). */
  private drfTotals(ctx: StrategyContext): { shares: Map<string, number>; total: number; weights: number } {
    const c = this.drfCache;
    if (c && c.now === ctx.now && c.version === ctx.usage.version) return c;
    const shares = new Map<string, number>();
    let total = 0;
    let weights = 0;
    for (const o of ctx.usage.owners()) {
      const s = ctx.usage.dominantShare(`owner:${o}`, ctx.now);
      shares.set(o, s);
      total += s;
      weights += this.config.ownerWeights[o] ?? 1;
    }
    this.drfCache = { now: ctx.now, version: ctx.usage.version, shares, total, weights };
    return this.drfCache;
  }

  private drfCache: { now: number; version: number; shares: Map<string, number>; total: number; weights: number } | null = null;

  place(request: Request, ctx: StrategyContext) {
    if (this.fgd) return this.fgd.place(request, ctx);
    const p = this.config.placement;
    return placeBest(request, ctx, (l, shape) => {
      const f = fractionsAfter(l, shape);
      const gpu = f.gpu === null ? 0 : mostAllocated({ cpu: null, memory: null, gpu: f.gpu }, { cpu: 0, memory: 0, gpu: 1 });
      return p.gpuPack * gpu + p.cpuMemBalance * balanced([f.cpu, f.memory]);
    }, bestFitShared);
  }

  override preempt(request: Request, ctx: StrategyContext): PreemptionPlan | null {
    return this.config.preemption.enabled ? lowerPriorityVictims(request, ctx) : null;
  }

  override sliced(r: Request): boolean {
    return isGpuRequest(r) && r.resources.gpus <= this.config.timeSliceMaxGpus;
  }

  override sliceRank(c: SliceCandidate, now: number): number {
    return lasRank(c, now, LAS);
  }
}

export const hybrid = (config?: unknown): Strategy => new Hybrid(config);
