/**
 * Scheduler contract: requests, allocations, conflicts and the change records the engine emits.
 * Units as in DESIGN.md: cpu in millicores, memory in MiB, `gpus` a count, `gpuMemMiB` per GPU (fractional), ms.
 */
import { z } from 'zod';
import { CONFLICT_TYPES, REQUEST_STATUSES, STRATEGY_NAMES } from './names.ts';

export { REQUEST_STATUSES, STRATEGY_NAMES };

export const StrategyNameSchema = z.enum(STRATEGY_NAMES);
export type StrategyName = z.infer<typeof StrategyNameSchema>;

/** Maxima of a request (sane bounds for one node; the node's own capacity is checked by the engine: never_fits). */
export const LIMITS = {
  cpu: 10_000_000,
  memoryMiB: 2 ** 31,
  gpus: 1024,
  gpuMemMiB: 2 ** 31,
  priority: 1_000_000,
  string: 256,
  labels: 64,
  /** names in a request's gpuModels, and the length of each */
  gpuModels: 16,
  gpuModelName: 64,
  /** expectedDurationMs and leaseMs: 366 days (the engine clamps a lease to its configured maximum) */
  durationMs: 366 * 24 * 3600 * 1000,
} as const;

const text = z.string().min(1).max(LIMITS.string);

/**
 * A name people read and stores keep (an owner, a group): no control characters (NUL, newlines, escapes) and no lone
 * UTF-16 surrogates, which are not text and become invalid UTF-8 on the way to the database.
 */
export const nameSchema = (max: number = LIMITS.string) => z.string().min(1).max(max)
  .refine((s) => !/[\u0000-\u001f\u007f-\u009f]/.test(s), { message: 'no control characters' })
  .refine((s) => !/[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/.test(s), { message: 'not well-formed text (a lone surrogate)' });
export const NameSchema = nameSchema();
const count = (max: number) => z.int().min(0).max(max);

/** What a request asks for, as submitted: every field optional, at least one > 0. */
export const ResourcesInputSchema = z
  .strictObject({
    /** millicores (1000 = one core) */
    cpu: count(LIMITS.cpu).optional(),
    memoryMiB: count(LIMITS.memoryMiB).optional(),
    /** whole GPUs (no other allocation on them); 0 or 1 together with gpuMemMiB */
    gpus: count(LIMITS.gpus).optional(),
    /** fractional: MiB of one GPU, shared with other fractional allocations whose memory fits */
    gpuMemMiB: count(LIMITS.gpuMemMiB).optional(),
  })
  .superRefine((r, ctx) => {
    if (!((r.cpu ?? 0) > 0 || (r.memoryMiB ?? 0) > 0 || (r.gpus ?? 0) > 0 || (r.gpuMemMiB ?? 0) > 0)) {
      ctx.addIssue({ code: 'custom', message: 'ask for at least one resource > 0 (cpu, memoryMiB, gpus or gpuMemMiB)' });
    }
    if ((r.gpuMemMiB ?? 0) > 0 && (r.gpus ?? 0) > 1) {
      ctx.addIssue({ code: 'custom', path: ['gpuMemMiB'], message: `gpuMemMiB is a share of one GPU: use it with gpus 0 or 1, not ${r.gpus}` });
    }
  });
export type ResourcesInput = z.infer<typeof ResourcesInputSchema>;

/** What a request holds, normalised: absent figures are 0; `gpuMemMiB` only on fractional requests. */
export const ResourcesSchema = z.object({
  cpu: z.int().nonnegative(),
  memoryMiB: z.int().nonnegative(),
  gpus: z.int().nonnegative(),
  gpuMemMiB: z.int().positive().optional(),
}).meta({ id: 'Resources' });
export type Resources = z.infer<typeof ResourcesSchema>;

export function normalizeResources(r: ResourcesInput): Resources {
  const out: Resources = { cpu: r.cpu ?? 0, memoryMiB: r.memoryMiB ?? 0, gpus: r.gpus ?? 0 };
  if ((r.gpuMemMiB ?? 0) > 0) out.gpuMemMiB = r.gpuMemMiB;
  return out;
}

const LabelsSchema = z
  .record(text, z.string().max(LIMITS.string))
  .refine((l) => Object.keys(l).length <= LIMITS.labels, { message: `at most ${LIMITS.labels} labels` });

/** GPU models a request's GPUs may be of (RequestInput.gpuModels says how a name matches). */
export const GpuModelsSchema = z.array(nameSchema(LIMITS.gpuModelName)).min(1).max(LIMITS.gpuModels);

/** The body of POST /api/requests. Unknown fields are rejected. */
export const RequestInputSchema = z.strictObject({
  owner: NameSchema,
  group: NameSchema.optional(),
  /** higher wins */
  priority: z.int().min(-LIMITS.priority).max(LIMITS.priority).default(0),
  resources: ResourcesInputSchema,
  expectedDurationMs: z.int().min(0).max(LIMITS.durationMs).optional(),
  /** may be preempted by a higher-priority request (strategies that preempt) */
  preemptible: z.boolean().default(false),
  /** lease asked for; default and maximum are the server's (`scheduler.lease*` options) */
  leaseMs: z.int().min(1).max(LIMITS.durationMs).optional(),
  labels: LabelsSchema.optional(),
  /**
   * place only on this node (a name of GET /api/nodes): it waits for room there even when other nodes have it, and
   * is refused (never_fits) when the node is not known or could never hold it. Absent: any node.
   */
  node: text.optional(),
  /**
   * place its GPUs (whole GPUs or a gpuMemMiB share) only on GPUs of one of these models. A name matches a GPU when,
   * ignoring case, it equals the GPU's model name or its words (runs of letters and digits) appear in a row among
   * that name's: `A100` matches `NVIDIA A100-SXM4-80GB`, `RTX 4090` matches `NVIDIA GeForce RTX 4090`; `A10` does not
   * match `NVIDIA A100-PCIE-40GB`. Needs a GPU ask; refused (never_fits) when the GPUs of these models on no node
   * could ever hold it. Absent: any GPU.
   */
  gpuModels: GpuModelsSchema.optional(),
}).superRefine((r, ctx) => {
  if (r.gpuModels && !((r.resources.gpus ?? 0) > 0 || (r.resources.gpuMemMiB ?? 0) > 0)) {
    ctx.addIssue({ code: 'custom', path: ['gpuModels'], message: 'gpuModels constrains GPUs: ask for resources.gpus or resources.gpuMemMiB > 0 with it' });
  }
}).meta({ id: 'RequestInput' });
/** As sent (defaults not applied). */
export type RequestInputBody = z.input<typeof RequestInputSchema>;
/** As parsed (priority and preemptible filled in). */
export type RequestInput = z.infer<typeof RequestInputSchema>;

export const RequestStatusSchema = z.enum(REQUEST_STATUSES);
export type RequestStatus = z.infer<typeof RequestStatusSchema>;

export const RequestSchema = z.object({
  id: z.string(),
  owner: z.string(),
  group: z.string().optional(),
  priority: z.int(),
  resources: ResourcesSchema,
  expectedDurationMs: z.int().optional(),
  preemptible: z.boolean(),
  leaseMs: z.int().optional(),
  labels: z.record(z.string(), z.string()).optional(),
  /** the only node it may be placed on (absent: any node) */
  node: z.string().optional(),
  /** the GPU models its GPUs may be of (absent: any GPU) */
  gpuModels: z.array(z.string()).optional(),
  submittedAt: z.number(),
  /** last status change */
  updatedAt: z.number(),
  status: RequestStatusSchema,
  /** set once granted */
  allocationId: z.string().optional(),
  /** the Idempotency-Key it was submitted with: a retried submit returns this request */
  idempotencyKey: z.string().optional(),
}).meta({ id: 'Request' });
export type Request = z.infer<typeof RequestSchema>;

export const AllocationStateSchema = z.enum(['active', 'released', 'expired', 'preempted']);
export type AllocationState = z.infer<typeof AllocationStateSchema>;

export const AllocationSchema = z.object({
  id: z.string(),
  requestId: z.string(),
  node: z.string(),
  /** GPUs held: whole GPUs, or the one GPU a fractional allocation shares */
  gpuIndices: z.array(z.int().nonnegative()),
  resources: ResourcesSchema,
  grantedAt: z.number(),
  leaseExpiresAt: z.number(),
  state: AllocationStateSchema,
  /** when it stopped being active */
  endedAt: z.number().optional(),
  /** time-slicing: suspended since (its GPU slot is given to another holder; it keeps its place and lease) */
  suspendedAt: z.number().optional(),
  /** preemption notice: its resources are taken at this time (grace period), for request `preemptedFor` */
  preemptAt: z.number().optional(),
  preemptedFor: z.string().optional(),
  /**
   * its node cannot be reached since then: the allocation is kept (never freed for it) and nothing new is placed
   * there; null once the node is reachable again; absent when it never was unreachable
   */
  unreachableSince: z.number().nullable().optional(),
}).meta({ id: 'Allocation' });
export type Allocation = z.infer<typeof AllocationSchema>;

export const ConflictTypeSchema = z.enum(CONFLICT_TYPES);
export type ConflictType = z.infer<typeof ConflictTypeSchema>;

/**
 * granted: the request got its allocation; cancelled: the request was cancelled; preempted_holder: a holder was
 * preempted for it (reserved for preempting strategies); expired: the allocation it was about ended by lease expiry;
 * cleared: reality agrees with the ledger again (schedule_conflict), or the conflict no longer applies.
 */
export const ConflictResolutionSchema = z.enum(['granted', 'cancelled', 'preempted_holder', 'expired', 'cleared']);
export type ConflictResolution = z.infer<typeof ConflictResolutionSchema>;

/** What is in the way: an allocation of the ledger, or a process/container the monitor sees on a GPU. */
export const ConflictHolderSchema = z.discriminatedUnion('kind', [
  z.object({
    kind: z.literal('allocation'),
    allocationId: z.string(),
    requestId: z.string(),
    owner: z.string(),
    priority: z.int(),
    gpuIndices: z.array(z.int()),
    /** the node the allocation is on */
    node: z.string().optional(),
  }),
  z.object({
    kind: z.literal('process'),
    pid: z.int().nullable(),
    containerId: z.string().nullable(),
    name: z.string(),
    gpuIndex: z.int(),
    usedMemoryMiB: z.number().nullable(),
    /** the allocation it belongs to (an ended one for an expired lease still in use); null when unmanaged */
    allocationId: z.string().nullable(),
    /** the node it runs on */
    node: z.string().optional(),
  }),
]);
export type ConflictHolder = z.infer<typeof ConflictHolderSchema>;

export const ConflictSchema = z.object({
  id: z.string(),
  /**
   * one open conflict per key: `request:<id>` (a waiting request); schedule_conflicts: `unmanaged:gpu:<index>` (a GPU
   * of the home node — the machine the server runs on — used without an allocation), `unmanaged:gpu:<index>@<node>`
   * (the same on another node), `lease:<allocationId>` (an ended allocation's processes still run), `overrun:<allocationId>`
   * (a suspended one's do), `unreachable:<node>` (the node does not report; its allocations are kept),
   * `missing:<node>:gpu:<index>` (an allocation holds a GPU the node no longer reports), `overcommit:<node>` (the
   * node's allocations hold more cpu or memory than it reports)
   */
  key: z.string(),
  type: ConflictTypeSchema,
  /** 1 (mild) – 5 (severe); see server/scheduler/conflicts.ts for the formula */
  severity: z.int().min(1).max(5),
  /** the waiting request, or the request whose allocation reality contradicts; null for unmanaged usage of a free GPU */
  requestId: z.string().nullable(),
  holders: z.array(ConflictHolderSchema),
  /**
   * short dimensions, comma-separated (`cpu`, `memory`, `gpu`); for a schedule_conflict `gpu:<index>` (GPUs of its
   * node, comma-separated), the short dimensions (overcommit), or `node:<name>` (unreachable)
   */
  resource: z.string(),
  /** the node a schedule_conflict is about */
  node: z.string().optional(),
  message: z.string(),
  openedAt: z.number(),
  updatedAt: z.number(),
  status: z.enum(['open', 'resolved']),
  resolution: ConflictResolutionSchema.optional(),
  resolvedAt: z.number().optional(),
}).meta({ id: 'Conflict' });
export type Conflict = z.infer<typeof ConflictSchema>;

export const QueueOrderSchema = z.enum(['fifo', 'priority']);
export type QueueOrder = z.infer<typeof QueueOrderSchema>;

/** A waiting request and its open conflict. */
export const QueueEntrySchema = z.object({ request: RequestSchema, conflict: ConflictSchema.nullable() });
export type QueueEntryView = z.infer<typeof QueueEntrySchema>;

/** Every state change of the engine, in the order it happened; the layers above persist and push them. */
const at = z.number();

/** The conflict changes: pushed as `conflict` events. */
export const ConflictChangeSchema = z.discriminatedUnion('kind', [
  z.object({ kind: z.literal('conflict_opened'), at, conflict: ConflictSchema }),
  z.object({ kind: z.literal('conflict_updated'), at, conflict: ConflictSchema }),
  z.object({ kind: z.literal('conflict_resolved'), at, conflict: ConflictSchema }),
]);
export type ConflictChange = z.infer<typeof ConflictChangeSchema>;

/** Every other change (grants, releases, queue changes, strategy changes): pushed as `scheduling_update` events. */
export const SchedulingChangeSchema = z.discriminatedUnion('kind', [
  z.object({ kind: z.literal('request_queued'), at, request: RequestSchema }),
  z.object({ kind: z.literal('request_granted'), at, request: RequestSchema }),
  z.object({ kind: z.literal('request_cancelled'), at, request: RequestSchema }),
  z.object({ kind: z.literal('allocation_granted'), at, allocation: AllocationSchema }),
  z.object({ kind: z.literal('allocation_renewed'), at, allocation: AllocationSchema }),
  z.object({ kind: z.literal('allocation_released'), at, allocation: AllocationSchema, request: RequestSchema }),
  z.object({ kind: z.literal('allocation_expired'), at, allocation: AllocationSchema, request: RequestSchema }),
  z.object({ kind: z.literal('allocation_preempted'), at, allocation: AllocationSchema, request: RequestSchema }),
  /** a preemption notice: the allocation is released at allocation.preemptAt */
  z.object({ kind: z.literal('allocation_preempting'), at, allocation: AllocationSchema }),
  /** time-slicing rotation: the worker pauses it (`docker pause`) / resumes it */
  z.object({ kind: z.literal('allocation_suspended'), at, allocation: AllocationSchema }),
  z.object({ kind: z.literal('allocation_resumed'), at, allocation: AllocationSchema }),
  /** its node became unreachable (allocation.unreachableSince is set) or reachable again (null) */
  z.object({ kind: z.literal('allocation_flagged'), at, allocation: AllocationSchema }),
  z.object({ kind: z.literal('strategy_changed'), at, strategy: StrategyNameSchema, previous: StrategyNameSchema, config: z.record(z.string(), z.unknown()).optional() }),
]);
export type SchedulingChange = z.infer<typeof SchedulingChangeSchema>;

export const ChangeSchema = z.discriminatedUnion('kind', [SchedulingChangeSchema, ConflictChangeSchema]);
export type Change = z.infer<typeof ChangeSchema>;

/** The records a change carries whole, each as it is now: a request, an allocation, a conflict (none: a strategy switch). */
export function changeRecords(c: Change): { request?: Request; allocation?: Allocation; conflict?: Conflict } {
  return {
    ...('request' in c ? { request: c.request } : {}),
    ...('allocation' in c ? { allocation: c.allocation } : {}),
    ...('conflict' in c ? { conflict: c.conflict } : {}),
  };
}
export type ChangeKind = Change['kind'];

const CONFLICT_CHANGE_KINDS: ReadonlySet<ChangeKind> = new Set(ConflictChangeSchema.options.map((o) => o.shape.kind.value));
/** Whether a change goes out as a `conflict` event (else as `scheduling_update`). */
export function isConflictChange(change: Change): change is ConflictChange {
  return CONFLICT_CHANGE_KINDS.has(change.kind);
}

/** Error codes of the scheduler and the HTTP status the REST layer maps each to. */
export const SCHEDULER_ERROR_STATUS = {
  invalid_request: 400,
  not_found: 404,
  invalid_state: 409,
  idempotency_conflict: 409,
  never_fits: 422,
  too_many_waiting: 429,
} as const;
export type SchedulerErrorCode = keyof typeof SCHEDULER_ERROR_STATUS;
