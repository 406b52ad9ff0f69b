/**
 * Strategy contract: each strategy's config schema (with documented defaults), the strategy endpoints' bodies and
 * answers, and the evaluation table (live performance, trace replay, compare). One schema each, used by the
 * server, the dashboard and the tests. Times in ms; cpu in millicores; memory in MiB.
 */
import { z } from 'zod';
import { FGD_WEIGHTINGS, INFLATION_PLACEMENTS } from './names.ts';
import { StrategyNameSchema, type StrategyName } from './scheduler.ts';

const weight = z.number().min(0).max(1_000_000);
const ms = (max = 366 * 24 * 3600_000) => z.int().min(0).max(max);
const ownerWeights = z.record(z.string().min(1).max(256), z.number().positive().max(1_000_000));

/** Preemption as kube-scheduler does it (priority_based, hybrid): only strictly lower-priority preemptible holders. */
export const PreemptionConfigSchema = z.strictObject({
  /** @default true */
  enabled: z.boolean().default(true),
  /** time a victim gets (with a pushed `allocation_preempting` notice) before its resources are taken @default 30000 */
  gracePeriodMs: ms(24 * 3600_000).default(30_000),
});

/** Slurm multifactor weights: prio = Σ w·f, each factor in [0, 1]. */
export const MultifactorWeightsSchema = z.strictObject({
  /** age: min(1, wait / maxAgeMs) @default 1000 */
  age: weight.default(1000),
  /** the request's priority, normalised: clamp(0.5 + priority / (2·priorityScale), 0, 1) @default 10000 */
  priority: weight.default(10_000),
  /** size: the request's dominant share of the cluster (1 − that with favorSmall) @default 0 */
  size: weight.default(0),
  /** fair-share: 2^(−U/S), U the owner's decayed usage share, S its normalised weight @default 0 */
  fairShare: weight.default(0),
  /** short job first: 1 − ln(1 + expected length/1 min) ÷ ln(1 + maxDurationMs/1 min); 0.5 without a length @default 0 */
  shortJob: weight.default(0),
});

/** a job at least this long gets short-job factor 0 @default 604800000 (7 days) */
const maxDurationMs = () => ms().min(60_000).default(7 * 24 * 3600_000);

export const PriorityBasedConfigSchema = z.strictObject({
  weights: MultifactorWeightsSchema.default(MultifactorWeightsSchema.parse({})),
  /** wait at which the age factor reaches 1 (Slurm PriorityMaxAge 7-0) @default 604800000 */
  maxAgeMs: ms().min(1).default(7 * 24 * 3600_000),
  /** priority that normalises to 1 (and −priorityScale to 0) @default 1000 */
  priorityScale: z.number().positive().max(1_000_000).default(1000),
  /** priorities are recomputed this often (Slurm PriorityCalcPeriod); new requests are ranked as they come @default 10000 */
  recalcMs: ms().min(1).default(10_000),
  /** size factor favours small requests (Slurm PriorityFavorSmall) @default false */
  favorSmall: z.boolean().default(false),
  /** decay half-life of usage for the fair-share factor @default 3600000 (1 h) */
  halfLifeMs: ms().min(1000).default(3600_000),
  /** per-owner weights of the fair-share factor (absent owners: 1) @default {} */
  ownerWeights: ownerWeights.default({}),
  /** a job at least this long gets short-job factor 0 @default 604800000 (7 days) */
  maxDurationMs: maxDurationMs(),
  /** a request that has waited this long and fits nowhere gets a node set aside (nothing else is placed there) until it runs; null: no reservation @default null */
  reserveAfterMs: ms().min(1).nullable().default(null),
  /** at most this many requests hold a reservation at once, each its own node @default 1 */
  maxReservations: z.int().min(1).max(1024).default(1),
  /** starvation bound: a reserved request is granted by this wait — the preemptible holders of its node in its way get notice (any priority) gracePeriodMs before; null: no bound; needs reserveAfterMs ≤ it @default null */
  maxWaitMs: ms().min(1).nullable().default(null),
  preemption: PreemptionConfigSchema.default(PreemptionConfigSchema.parse({})),
}).superRefine((c, ctx) => {
  if (c.maxWaitMs === null) return;
  if (c.reserveAfterMs === null || c.reserveAfterMs > c.maxWaitMs) {
    ctx.addIssue({ code: 'custom', path: ['maxWaitMs'], message: 'needs reserveAfterMs set and at most maxWaitMs (the bound acts on a reserved request)' });
  }
});

export const FairSharingConfigSchema = z.strictObject({
  /** usage decays by half every halfLifeMs (Slurm's default is 7 days; ours shorter) @default 3600000 (1 h) */
  halfLifeMs: ms().min(1000).default(3600_000),
  /** per-owner weights (absent owners: defaultWeight) @default {} */
  ownerWeights: ownerWeights.default({}),
  /** per-group weights; when a request names a group, shares are computed per group first @default {} */
  groupWeights: ownerWeights.default({}),
  /** @default 1 */
  defaultWeight: z.number().positive().max(1_000_000).default(1),
  /** YARN's rule: preempt when the cluster is above `utilisationThreshold` and an owner stayed below half its fair share for `starvedForMs` (off by default) */
  preemption: z.strictObject({
    /** @default false */
    enabled: z.boolean().default(false),
    /** @default 0.9 */
    utilisationThreshold: z.number().min(0).max(1).default(0.9),
    /** @default 300000 (5 min) */
    starvedForMs: ms().default(300_000),
    /** @default 30000 */
    gracePeriodMs: ms(24 * 3600_000).default(30_000),
  }).default({ enabled: false, utilisationThreshold: 0.9, starvedForMs: 300_000, gracePeriodMs: 30_000 }),
});

export const TimeSlicingConfigSchema = z.strictObject({
  /** slots each GPU advertises (NVIDIA time-slicing replicas; no memory isolation) @default 1 */
  replicas: z.int().min(1).max(64).default(1),
  /** a request may take more than one slot of one GPU (refused by default) @default false */
  allowMultiSlot: z.boolean().default(false),
  /** rotation quantum @default 60000 */
  quantumMs: ms().min(1).default(60_000),
  /** Tiresias discretised LAS: attained-service thresholds (GPU·ms) between queues, ascending @default [3600000, 36000000] (1 and 10 GPU·h) */
  queueThresholds: z.array(z.number().positive()).max(16).default([3_600_000, 36_000_000]),
  /** anti-starvation: a suspended/waiting request whose wait exceeds this multiple of its attained run time (and starveMinMs) goes to the first queue @default 2 */
  starvationFactor: z.number().positive().max(1000).default(2),
  /** @default 600000 (10 min) */
  starveMinMs: ms().default(600_000),
});

export const ResourceWeightsSchema = z.strictObject({
  /** @default 1 */
  cpu: weight.default(1),
  /** @default 1 */
  memory: weight.default(1),
  /** @default 2 */
  gpu: weight.default(2),
});

/**
 * How a packing strategy picks the node and GPU: `score` — its own node score (resource_pooling: MostAllocated;
 * hybrid: its `placement` weights), fractional requests onto the shared GPU with the least room that fits; `fgd` —
 * fragmentation gradient descent (Weng et al., USENIX ATC '23): where the expected GPU capacity the next request
 * could not use, for the requests seen so far, grows least.
 */
export const PlacementMethodSchema = z.enum(['score', 'fgd']);

export const ResourcePoolingConfigSchema = z.strictObject({
  /** MostAllocated score weights @default {cpu:1, memory:1, gpu:2} */
  weights: ResourceWeightsSchema.default(ResourceWeightsSchema.parse({})),
  /** per-group quotas (GPUs); a group's idle quota is lent to others as preemptible work @default {} */
  groupQuotas: z.record(z.string().min(1).max(256), z.strictObject({ gpus: z.number().min(0).max(100_000) })).default({}),
  /** lend idle quota (borrowed allocations are preempted when the owning group asks) @default true */
  lendIdleQuota: z.boolean().default(true),
  /** @default 30000 */
  gracePeriodMs: ms(24 * 3600_000).default(30_000),
  /** score: MostAllocated; fgd: fragmentation gradient descent @default 'score' */
  placementMethod: PlacementMethodSchema.default('score'),
  /** fgd: weigh the request types seen by count (the paper) or by the GPUs they bring (keeps nodes whole for rare many-GPU requests) @default 'count' */
  fgdWeighting: z.enum(FGD_WEIGHTINGS).default('count'),
});

export const LoadBalancingConfigSchema = z.strictObject({
  /** LeastAllocated score weights @default {cpu:1, memory:1, gpu:2} */
  weights: ResourceWeightsSchema.default(ResourceWeightsSchema.parse({})),
  /** weight of BalancedAllocation (1 − std of the per-resource fractions)·100 @default 1 */
  balancedWeight: weight.default(1),
  /** live GPU utilisation from the monitor counts as allocated in this proportion @default 1 */
  utilisationWeight: z.number().min(0).max(1).default(1),
  /** a GPU busy at or above this % is not offered as free @default 90 */
  busyPercent: z.number().min(0).max(100).default(90),
});

export const HybridConfigSchema = z.strictObject({
  weights: MultifactorWeightsSchema.default({ age: 1000, priority: 10_000, size: 0, fairShare: 5000, shortJob: 0 }),
  /** @default 604800000 */
  maxAgeMs: ms().min(1).default(7 * 24 * 3600_000),
  /** @default 10000 */
  recalcMs: ms().min(1).default(10_000),
  /** @default 1000 */
  priorityScale: z.number().positive().max(1_000_000).default(1000),
  /** @default 3600000 */
  halfLifeMs: ms().min(1000).default(3600_000),
  /** @default {} */
  ownerWeights: ownerWeights.default({}),
  /** a job at least this long gets short-job factor 0 @default 604800000 (7 days) */
  maxDurationMs: maxDurationMs(),
  /** placement: MostAllocated on GPUs, Balanced on cpu/memory */
  placement: z.strictObject({
    /** @default 2 */
    gpuPack: weight.default(2),
    /** @default 1 */
    cpuMemBalance: weight.default(1),
  }).default({ gpuPack: 2, cpuMemBalance: 1 }),
  /** score: the `placement` weights; fgd: fragmentation gradient descent (the weights are then unused) @default 'score' */
  placementMethod: PlacementMethodSchema.default('score'),
  /** fgd: weigh the request types seen by count (the paper) or by the GPUs they bring (keeps nodes whole for rare many-GPU requests) @default 'count' */
  fgdWeighting: z.enum(FGD_WEIGHTINGS).default('count'),
  /** time-slicing applies to requests of at most this many GPUs @default 1 */
  timeSliceMaxGpus: z.int().min(0).max(1024).default(1),
  /** rotation quantum for time-sliced requests @default 60000 */
  quantumMs: ms().min(1).default(60_000),
  preemption: PreemptionConfigSchema.default(PreemptionConfigSchema.parse({})),
});

export const STRATEGY_CONFIG_SCHEMAS = {
  priority_based: PriorityBasedConfigSchema,
  fair_sharing: FairSharingConfigSchema,
  time_slicing: TimeSlicingConfigSchema,
  resource_pooling: ResourcePoolingConfigSchema,
  load_balancing: LoadBalancingConfigSchema,
  hybrid: HybridConfigSchema,
} as const satisfies Record<StrategyName, z.ZodType>;

export type PriorityBasedConfig = z.infer<typeof PriorityBasedConfigSchema>;
export type FairSharingConfig = z.infer<typeof FairSharingConfigSchema>;
export type TimeSlicingConfig = z.infer<typeof TimeSlicingConfigSchema>;
export type ResourcePoolingConfig = z.infer<typeof ResourcePoolingConfigSchema>;
export type LoadBalancingConfig = z.infer<typeof LoadBalancingConfigSchema>;
export type HybridConfig = z.infer<typeof HybridConfigSchema>;
export type StrategyConfigOf<N extends StrategyName> = z.infer<(typeof STRATEGY_CONFIG_SCHEMAS)[N]>;

export const STRATEGY_DESCRIPTIONS: Record<StrategyName, string> = {
  priority_based: 'Slurm multifactor priority (age, priority, size, fair-share); preempts strictly lower-priority preemptible holders as kube-scheduler does.',
  fair_sharing: 'Dominant Resource Fairness per owner (and group) with decayed usage and weights; next grant to the lowest weighted dominant share.',
  time_slicing: 'GPUs shared in time: replicas per GPU, holders rotated every quantum in discretised least-attained-service order (Tiresias).',
  resource_pooling: 'Bin-packing (MostAllocated): fill shared and busy nodes first, keep whole GPUs whole; group quotas lent when idle.',
  load_balancing: 'Spread (LeastAllocated + BalancedAllocation), counting live GPU utilisation from the monitor.',
  hybrid: 'Multifactor priority with DRF fair-share and age; MostAllocated on GPUs, balanced on cpu/memory; time-slicing for ≤ 1 GPU.',
};

/** PUT /api/strategy. */
export const StrategyPutSchema = z.strictObject({
  name: StrategyNameSchema,
  /** validated against that strategy's schema; absent: its defaults (or the config it had last) */
  config: z.record(z.string(), z.unknown()).optional(),
}).meta({ id: 'StrategyPut' });
export type StrategyPut = z.infer<typeof StrategyPutSchema>;

/** GET /api/strategy. */
export const StrategyStateSchema = z.object({
  name: StrategyNameSchema,
  config: z.record(z.string(), z.unknown()),
  /** when it became active (epoch ms) */
  since: z.number(),
}).meta({ id: 'StrategyState' });
export type StrategyState = z.infer<typeof StrategyStateSchema>;

/** GET /api/strategies: every strategy with its config's JSON Schema and defaults. */
export const StrategyInfoSchema = z.object({
  name: StrategyNameSchema,
  description: z.string(),
  /** JSON Schema (draft 2020-12) of its config */
  configSchema: z.record(z.string(), z.unknown()),
  defaults: z.record(z.string(), z.unknown()),
  current: z.boolean(),
}).meta({ id: 'StrategyInfo' });
export const StrategiesResponseSchema = z.object({ strategies: z.array(StrategyInfoSchema) });

const Dist = z.object({ mean: z.number().nullable(), p50: z.number().nullable(), p95: z.number().nullable() });

/** One strategy's figures over the time it was active (live), or over a replay (simulator, compare). */
export const StrategyPerformanceSchema = z.object({
  strategy: StrategyNameSchema,
  /** ms it was active (live) or the simulated span (replay) */
  activeMs: z.number(),
  /** submitted while it was active */
  requests: z.int(),
  granted: z.int(),
  /** cancelled before a grant */
  cancelled: z.int(),
  /** granted but ended by expiry or preemption */
  failed: z.int(),
  /** granted ÷ (granted + cancelled + still waiting past the starvation threshold); null when nothing was decided */
  successRate: z.number().nullable(),
  /** wait from submit to grant, ms */
  waitMs: Dist,
  /** allocated GPU-time ÷ GPU capacity-time (0–1); null without GPUs */
  utilisation: z.number().nullable(),
  /** Jain's index over owners of received ÷ entitled GPU-time (1 = perfectly fair); null with < 2 owners */
  jain: z.number().nullable(),
  preemptions: z.int(),
  /** suspensions by time-slicing rotation */
  suspensions: z.int(),
  /** waited (or still wait) longer than the starvation threshold */
  starved: z.int(),
  /** replay only: job completion time (submit → end) */
  jctMs: Dist.optional(),
  /** replay only: first submit → last end */
  makespanMs: z.number().optional(),
  /** replay only: time-weighted mean share of the free GPU capacity stranded on partly used GPUs (first to last submit) */
  fragmentation: z.number().nullable().optional(),
  /** replay only: wall time of the replay */
  wallMs: z.number().optional(),
}).meta({ id: 'StrategyPerformance' });
export type StrategyPerformance = z.infer<typeof StrategyPerformanceSchema>;

/** GET /api/strategy/performance */
export const PerformanceResponseSchema = z.object({
  current: StrategyNameSchema,
  /** requests waiting longer than this count as starved */
  starvationMs: z.number(),
  strategies: z.array(StrategyPerformanceSchema),
});
export type PerformanceResponse = z.infer<typeof PerformanceResponseSchema>;

/** POST /api/strategy/compare */
export const CompareBodySchema = z.strictObject({
  /** replay this server's requests of the last `hours` @default 24 */
  hours: z.number().positive().max(24 * 30).default(24),
  /** @default all six */
  strategies: z.array(StrategyNameSchema).min(1).max(6).optional(),
  /** also run the workload-inflation experiment on the live cluster with the same requests (`inflation` in the answer) @default false */
  inflation: z.boolean().default(false),
  /** the experiment's draws are seeded: the same seed, cluster and requests give the same lines @default 1 */
  seed: z.int().min(0).max(2 ** 31 - 1).default(1),
}).meta({ id: 'CompareBody' });
export type CompareBody = z.input<typeof CompareBodySchema>;

export const InflationPlacementSchema = z.enum(INFLATION_PLACEMENTS);

/**
 * The FGD paper's workload-inflation experiment on the live cluster (server/sim/live-inflation.ts): the reachable
 * nodes and their GPUs as the scheduler sees them, emptied; pods drawn (seeded) from the compare's requests, placed
 * with no departures until the arrived GPU demand reaches the GPU capacity, under each placement.
 */
export const InflationResultSchema = z.object({
  /** nodes and GPUs of the cluster the experiment ran on */
  nodes: z.int(),
  gpus: z.int(),
  seed: z.int(),
  /** the requests the pods are drawn from, and of them those asking GPUs */
  requests: z.int(),
  gpuRequests: z.int(),
  /** why there are no lines (no GPU, no request, none asking GPUs); null when there are */
  empty: z.string().nullable(),
  /** pods drawn per placement at most (the bound on the work): a line that reaches it stops short of 100 % arrived */
  maxPods: z.int(),
  /** the placement the strategy in force uses, when it is one of the lines */
  current: InflationPlacementSchema.nullable(),
  placements: z.array(z.object({
    name: InflationPlacementSchema,
    /** pods drawn, and of them turned away (fitted nowhere) */
    pods: z.int(),
    failed: z.int(),
    /** one per 1 % of arrived GPU demand */
    points: z.array(z.object({
      /** arrived GPU demand, % of the cluster's GPUs */
      arrivedPct: z.number(),
      /** arrived demand − allocated GPUs, % of the cluster's GPUs */
      unallocatedGpuPct: z.number(),
      /** fragmentation ÷ free GPU capacity, %; null when nothing is free */
      fragmentationPct: z.number().nullable(),
    })),
  })),
}).meta({ id: 'InflationResult' });
export type InflationResult = z.infer<typeof InflationResultSchema>;

export const CompareResponseSchema = z.object({
  from: z.number(),
  to: z.number(),
  /** requests replayed */
  requests: z.int(),
  current: StrategyNameSchema,
  rows: z.array(StrategyPerformanceSchema),
  /** the strategy with the lowest mean wait when it cuts the current one's by ≥ 20 % (a hint is published) */
  suggestion: z.object({ strategy: StrategyNameSchema, meanWaitCut: z.number() }).nullable(),
  /** with `inflation: true` in the body */
  inflation: InflationResultSchema.optional(),
}).meta({ id: 'CompareResponse' });
export type CompareResponse = z.infer<typeof CompareResponseSchema>;

/** POST /api/conflicts/:id/resolve */
export const ResolveBodySchema = z.strictObject({ strategy: StrategyNameSchema.optional() }).meta({ id: 'ResolveBody' });

/** Defaults of a strategy's config (the schema parsed from {}). */
export function strategyDefaults<N extends StrategyName>(name: N): StrategyConfigOf<N> {
  return STRATEGY_CONFIG_SCHEMAS[name].parse({}) as StrategyConfigOf<N>;
}
