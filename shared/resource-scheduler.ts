/**
 * The resource-scheduler specification's surface (`/api/resource-scheduler/…`): its request bodies and queries with
 * its own snake_case names and units, and the answers, which carry the specification's keys (`success`, `cpu_state`,
 * `gpu_states`, `conflicts`, `count`, …) beside Arbiter's own records. One schema per request and answer, used by
 * the server, the OpenAPI document and the tests. The units of `POST allocate`'s `requested_amount`: cpu in percent
 * of the machine (100 = every core), gpu a count of whole GPUs, memory in MiB.
 */
import { z } from 'zod';
import { decimalInt } from './query.ts';
import { TOKEN_QUERY } from './api.ts';
import { ContainerSchema, CpuSchema, GpuSchema, SourceStatusSchema } from './resources.ts';
import { AllocationSchema, ConflictSchema, LIMITS, NameSchema, QueueEntrySchema, RequestSchema, ResourcesSchema, StrategyNameSchema } from './scheduler.ts';
import { PerformanceResponseSchema } from './strategy.ts';

const ok = z.literal(true);
const flag = z.stringbool({ error: 'expected true or false' });

/** A GPU's state as the specification names it. */
export const RS_GPU_STATES = ['available', 'in_use', 'error'] as const;

/** GET status/cpu */
export const RsCpuResponseSchema = z.object({ success: ok, sampledAt: z.number(), cpu_state: CpuSchema }).meta({ id: 'RsCpuResponse' });

/**
 * One GPU: Arbiter's fields and `state` — `error` when its status or health says so, else `in_use` when an allocation
 * (`allocationIds`) or a process holds it, else `available`.
 */
export const RsGpuSchema = GpuSchema.extend({
  state: z.enum(RS_GPU_STATES),
  /** the active allocations on this GPU (whole or a fractional share) */
  allocationIds: z.array(z.string()),
}).meta({ id: 'RsGpu' });
export type RsGpu = z.infer<typeof RsGpuSchema>;

/** GET status/gpu: the list, and the same GPUs keyed by index as the specification's `gpu_states`. */
export const RsGpuResponseSchema = z.object({
  success: ok,
  count: z.int(),
  source: SourceStatusSchema.nullable(),
  gpus: z.array(RsGpuSchema),
  gpu_states: z.record(z.string(), RsGpuSchema),
}).meta({ id: 'RsGpuResponse' });

/** GET status/containers: the list, and the same containers keyed by id as `container_states`. */
export const RsContainersResponseSchema = z.object({
  success: ok,
  count: z.int(),
  source: SourceStatusSchema.nullable(),
  containers: z.array(ContainerSchema),
  container_states: z.record(z.string(), ContainerSchema),
}).meta({ id: 'RsContainersResponse' });

/** GET conflicts/queue?use_priority= (`true`/`false`, also `True`, `1`, `0`: what Python's requests sends) */
export const RsQueueQuerySchema = z.strictObject({
  ...TOKEN_QUERY,
  /** priority order (severity, effective priority, age) instead of FIFO @default false */
  use_priority: flag.default(false),
  /** @default 1000 */
  limit: decimalInt(1, 1000).default(1000),
});

/** The open conflicts in the queue's order, and the waiting requests with theirs (Arbiter's queue). */
export const RsQueueResponseSchema = z.object({
  success: ok,
  use_priority: z.boolean(),
  order: z.enum(['fifo', 'priority']),
  count: z.int(),
  conflicts: z.array(ConflictSchema),
  /** waiting requests in that order, each with its conflict */
  queue: z.array(QueueEntrySchema),
  /** waiting requests in all (queue holds at most `limit`) */
  waiting: z.int(),
}).meta({ id: 'RsQueueResponse' });

/** POST conflicts/{id}/resolve (and POST conflicts/resolve with `conflict_id`, the specification's first form) */
export const RsResolveBodySchema = z.strictObject({
  /** resolve as this strategy would; absent or null: the one in force */
  strategy: StrategyNameSchema.nullable().optional(),
}).meta({ id: 'RsResolveBody' });
export const RsResolveByIdBodySchema = RsResolveBodySchema.extend({ conflict_id: z.string().min(1).max(128) }).meta({ id: 'RsResolveByIdBody' });

export const RsResolveResponseSchema = z.object({
  success: ok,
  message: z.string(),
  /** what was done: granted, rotated, preempting (resolved when the victims' grace ends), … */
  action: z.string(),
  strategy: StrategyNameSchema,
  conflict: ConflictSchema,
  resolvesAt: z.number().optional(),
}).meta({ id: 'RsResolveResponse' });

/**
 * POST strategy/set. `config` takes the specification's keys (RS_CONFIG_KEYS: `time_slice` in seconds → the
 * rotation quantum of time_slicing and hybrid) and Arbiter's own keys of that strategy (GET /api/strategies);
 * another key is a 400 naming it.
 */
export const RsStrategySetBodySchema = z.strictObject({
  strategy: StrategyNameSchema,
  config: z.record(z.string(), z.unknown()).nullable().optional(),
}).meta({ id: 'RsStrategySetBody' });

/** The specification's config keys and what each is in Arbiter's strategies' configs. */
export const RS_CONFIG_KEYS = {
  /** seconds (> 0) → `quantumMs` (ms), for the strategies that rotate in quanta */
  time_slice: { key: 'quantumMs', scale: 1000, strategies: ['time_slicing', 'hybrid'] },
} as const;
export const RsTimeSliceSchema = z.number({ error: 'expected a number of seconds' }).positive('expected a number of seconds > 0').max(366 * 24 * 3600);

export const RsStrategyStateSchema = z.object({
  success: ok,
  strategy: StrategyNameSchema,
  config: z.record(z.string(), z.unknown()),
  /** when it became active (epoch ms) */
  since: z.number(),
}).meta({ id: 'RsStrategyState' });

export const RsStrategySetResponseSchema = RsStrategyStateSchema.extend({
  message: z.string(),
  /** specification keys that mean nothing to this strategy (e.g. time_slice for fair_sharing), with why */
  ignored: z.array(z.object({ key: z.string(), reason: z.string() })),
}).meta({ id: 'RsStrategySetResponse' });

/** GET strategy/performance?strategy= (one strategy's row only) */
export const RsPerformanceQuerySchema = z.strictObject({ ...TOKEN_QUERY, strategy: StrategyNameSchema.optional() });
export const RsPerformanceResponseSchema = z.object({ success: ok, performance: PerformanceResponseSchema }).meta({ id: 'RsPerformanceResponse' });

/** The resource types of POST allocate and their units. */
export const RS_RESOURCE_TYPES = ['cpu', 'gpu', 'memory'] as const;

/**
 * POST allocate: one resource request whose owner is `task_id`. `requested_amount`: cpu in percent of the machine
 * (rounded up to millicores of its capacity), gpu a whole number of GPUs, memory MiB (rounded up).
 */
export const RsAllocateBodySchema = z.strictObject({
  task_id: NameSchema,
  resource_type: z.enum(RS_RESOURCE_TYPES),
  requested_amount: z.number().positive('expected an amount > 0'),
  /** higher wins (the specification's default, 5) @default 5 */
  priority: z.int().min(-LIMITS.priority).max(LIMITS.priority).default(5),
  /** kept as the request's labels (values as strings) */
  metadata: z.record(z.string().min(1).max(LIMITS.string), z.union([z.string().max(LIMITS.string), z.number(), z.boolean()]))
    .refine((m) => Object.keys(m).length <= LIMITS.labels, { message: `at most ${LIMITS.labels} keys` }).nullable().optional(),
}).superRefine((b, ctx) => {
  if (b.resource_type === 'gpu' && !Number.isInteger(b.requested_amount)) {
    ctx.addIssue({ code: 'custom', path: ['requested_amount'], message: `a whole number of GPUs, not ${b.requested_amount}` });
  }
  if (b.resource_type === 'cpu' && b.requested_amount > 100) {
    ctx.addIssue({ code: 'custom', path: ['requested_amount'], message: `percent of the machine, at most 100, not ${b.requested_amount}` });
  }
}).meta({ id: 'RsAllocateBody' });
export type RsAllocateBody = z.infer<typeof RsAllocateBodySchema>;

export const RsAllocateResponseSchema = z.object({
  success: ok,
  task_id: z.string(),
  /** granted now, or queued (its conflict says what is in the way) */
  status: z.enum(['granted', 'queued']),
  request_id: z.string(),
  allocation_id: z.string().nullable(),
  /** what was asked of Arbiter, in its units (millicores, MiB, GPUs) */
  resources: ResourcesSchema,
  request: RequestSchema,
  allocation: AllocationSchema.optional(),
  conflict: ConflictSchema.optional(),
}).meta({ id: 'RsAllocateResponse' });
