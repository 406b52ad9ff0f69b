/**
 * Task dispatch for model-serving task instances: the `Scheduler.md` API kept field for field (snake_case, times in
 * seconds as floats) — register/remove instances, submit tasks, queue info, task query, completion notices — and
 * Arbiter's own records of instances and tasks (camelCase, ms since epoch) that the store keeps and the push
 * carries. Schemas are used by the server's routes, the dashboard (types only) and the tests.
 */
import { z } from 'zod';
import { decimalInt } from './query.ts';
import { DISPATCH_POLICIES, TASK_STATUSES } from './names.ts';

export const DispatchPolicySchema = z.enum(DISPATCH_POLICIES);
export type DispatchPolicy = z.infer<typeof DispatchPolicySchema>;
export const TaskStatusSchema = z.enum(TASK_STATUSES);
export type TaskStatus = z.infer<typeof TaskStatusSchema>;

const host = z.string().min(1).max(253);
const port = z.int().min(1).max(65_535);
const modelName = z.string().min(1).max(256);
const jsonObject = z.record(z.string(), z.unknown());
const uuid = z.string().min(1).max(128);

// ------------------------------------------------------------------ the specification's routes (snake_case)

/** `POST /ti/register`. `weight` (Arbiter's addition) is the instance's share under the `weighted` policy. */
export const TiRegisterBodySchema = z.object({ host, port, model_name: modelName, weight: z.number().positive().max(1e6).optional() }).meta({ id: 'TiRegisterBody' });
export type TiRegisterBody = z.infer<typeof TiRegisterBodySchema>;
export const TiRegisterResponseSchema = z.object({ status: z.enum(['success', 'error']), message: z.string(), ti_uuid: z.string() });
export type TiRegisterResponse = z.infer<typeof TiRegisterResponseSchema>;

/** `POST /ti/remove` */
export const TiRemoveBodySchema = z.object({ host, port }).meta({ id: 'TiRemoveBody' });
export type TiRemoveBody = z.infer<typeof TiRemoveBodySchema>;
export const TiRemoveResponseSchema = z.object({
  status: z.enum(['success', 'error']), message: z.string(), host: z.string(), port: z.int(), ti_uuid: z.string().nullable(),
});
export type TiRemoveResponse = z.infer<typeof TiRemoveResponseSchema>;

/** `POST /queue/submit` */
export const QueueSubmitBodySchema = z.object({ model_name: modelName, task_input: jsonObject, metadata: jsonObject.default({}) }).meta({ id: 'QueueSubmitBody' });
export type QueueSubmitBody = z.input<typeof QueueSubmitBodySchema>;
export const QueueSubmitResponseSchema = z.object({ status: z.literal('success'), task_id: z.string(), scheduled_ti: z.string() });
export type QueueSubmitResponse = z.infer<typeof QueueSubmitResponseSchema>;

/** `GET /queue/info[?model_name=]` */
export const QueueInfoQuerySchema = z.object({ model_name: modelName.optional() });
export const QueueInfoItemSchema = z.object({
  model_name: z.string(), ti_uuid: z.string(),
  /** expected wait of a task sent there now, seconds: Σ predicted means of its unfinished tasks */
  waiting_time_expect: z.number(),
  /** its error, seconds: √Σ predicted variances */
  waiting_time_error: z.number(),
});
export type QueueInfoItem = z.infer<typeof QueueInfoItemSchema>;
export const QueueInfoResponseSchema = z.object({ status: z.literal('success'), queues: z.array(QueueInfoItemSchema) });
export type QueueInfoResponse = z.infer<typeof QueueInfoResponseSchema>;

/** `GET /task/query?task_id=` */
export const TaskQueryQuerySchema = z.object({ task_id: uuid });
export const TaskQueryResponseSchema = z.object({
  task_id: z.string(),
  task_status: TaskStatusSchema,
  scheduled_ti: z.string().nullable(),
  /** unix seconds */
  submit_time: z.number(),
  result: z.unknown().nullable(),
  // Arbiter's additions: the task's time statistics (seconds) and where it went
  model_name: z.string(),
  queue_time: z.number().nullable(),
  execution_time: z.number().nullable(),
  total_time: z.number().nullable(),
  attempts: z.int(),
  rerouted: z.boolean(),
});
export type TaskQueryResponse = z.infer<typeof TaskQueryResponseSchema>;

/** `POST /notify/task_complete`, sent by the instance; `execution_time` in seconds. */
export const TaskCompleteBodySchema = z.object({
  task_id: uuid, result: z.unknown().optional(), execution_time: z.number().nonnegative().max(1e7).optional(), instance_id: z.string().max(256).optional(),
}).meta({ id: 'TaskCompleteBody' });
export type TaskCompleteBody = z.infer<typeof TaskCompleteBodySchema>;
export const TaskCompleteResponseSchema = z.object({ status: z.literal('success'), message: z.string(), total_time_ms: z.number().nullable() });
export type TaskCompleteResponse = z.infer<typeof TaskCompleteResponseSchema>;

/** Every error of these routes: FastAPI clients read `detail`, the specification's read `message`. */
export const DispatchErrorSchema = z.object({ status: z.literal('error'), message: z.string(), detail: z.string() });
export type DispatchError = z.infer<typeof DispatchErrorSchema>;

// ------------------------------------------------------------------ the instance side (a fixed contract)

/** What Arbiter POSTs to `http://{host}:{port}/task/submit`; a 2xx means the instance accepted it. */
export const InstanceTaskSchema = z.object({ task_id: z.string(), model_name: z.string(), task_input: jsonObject, metadata: jsonObject });
export type InstanceTask = z.infer<typeof InstanceTaskSchema>;

/** What an instance may answer on `GET /health` (every field optional). */
export const InstanceHealthSchema = z.object({
  instance_id: z.string().optional(), model_type: z.string().optional(), replicas_running: z.number().optional(),
  queue_size: z.number().optional(), status: z.string().optional(),
}).loose();
export type InstanceHealth = z.infer<typeof InstanceHealthSchema>;

// ------------------------------------------------------------------ Arbiter's records (camelCase, ms)

export const InstanceStateSchema = z.enum(['up', 'down']);
export const TaskInstanceSchema = z.object({
  id: z.string(),
  host: z.string(),
  port: z.int(),
  model: z.string(),
  weight: z.number(),
  state: InstanceStateSchema,
  registeredAt: z.number(),
  /** deliveries that failed in a row */
  failures: z.int(),
  /** what its `GET /health` said last */
  health: InstanceHealthSchema.nullable(),
}).meta({ id: 'TaskInstance' });
export type TaskInstance = z.infer<typeof TaskInstanceSchema>;

export const DispatchTaskSchema = z.object({
  id: z.string(),
  model: z.string(),
  input: jsonObject,
  metadata: jsonObject,
  status: TaskStatusSchema,
  /** where it is (or was last) routed */
  instance: z.string().nullable(),
  submittedAt: z.number(),
  scheduledAt: z.number().nullable(),
  endedAt: z.number().nullable(),
  /** delivery attempts so far */
  attempts: z.int(),
  /** moved to another instance after its own went away */
  rerouted: z.boolean(),
  /** predicted execution time of the task, ms (mean and standard deviation) */
  predictedMs: z.object({ mean: z.number(), sd: z.number() }),
  executionMs: z.number().nullable(),
  result: z.unknown().nullable(),
  /** why it failed */
  error: z.string().nullable(),
}).meta({ id: 'DispatchTask' });
export type DispatchTask = z.infer<typeof DispatchTaskSchema>;

const at = z.number();
/** The `data` of a `task_update` event. */
export const TaskChangeSchema = z.object({
  kind: z.enum(['task_queued', 'task_scheduled', 'task_completed', 'task_failed', 'task_rerouted']),
  at,
  task: DispatchTaskSchema,
});
export type TaskChange = z.infer<typeof TaskChangeSchema>;
/** The `data` of an `instance_update` event. */
export const InstanceChangeSchema = z.discriminatedUnion('kind', [
  z.object({ kind: z.enum(['instance_registered', 'instance_removed', 'instance_down', 'instance_up']), at, instance: TaskInstanceSchema }),
  z.object({ kind: z.literal('policy_changed'), at, policy: DispatchPolicySchema, previous: DispatchPolicySchema }),
]);
export type InstanceChange = z.infer<typeof InstanceChangeSchema>;
export type DispatchChange = TaskChange | InstanceChange;

// ------------------------------------------------------------------ the predictor's prior (config file)

/** Mean and standard deviation of a task's execution time, seconds. */
export const ExecPriorSchema = z.object({ mean: z.number().nonnegative(), sd: z.number().nonnegative() });
export type ExecPrior = z.infer<typeof ExecPriorSchema>;
/**
 * Per model: the metadata field that picks a bucket (`key`), the prior of each bucket, and of everything else
 * (`default`). E.g. `{"llm": {"key": "size", "buckets": {"small": {"mean": 0.4, "sd": 0.1}}, "default": {"mean": 2, "sd": 1}}}`.
 */
export const PredictorTableSchema = z.record(modelName, z.object({
  key: z.string().min(1).optional(),
  buckets: z.record(z.string(), ExecPriorSchema).default({}),
  default: ExecPriorSchema.optional(),
}));
export type PredictorTable = z.infer<typeof PredictorTableSchema>;

// ------------------------------------------------------------------ Arbiter's own dispatch routes (/api/dispatch/…)

export const DispatchInstancesResponseSchema = z.object({ instances: z.array(TaskInstanceSchema) });
export type DispatchInstancesResponse = z.infer<typeof DispatchInstancesResponseSchema>;
export const DispatchTasksQuerySchema = z.object({ limit: decimalInt(1, 1000).default(100) });
export const DispatchTasksResponseSchema = z.object({ tasks: z.array(DispatchTaskSchema) });
export type DispatchTasksResponse = z.infer<typeof DispatchTasksResponseSchema>;
/** `PUT /api/dispatch/policy` body and the answer of GET and PUT */
export const DispatchPolicyBodySchema = z.strictObject({ policy: DispatchPolicySchema }).meta({ id: 'DispatchPolicyBody' });
export const DispatchPolicyResponseSchema = z.object({
  policy: DispatchPolicySchema,
  /** the policies this server can switch to (`custom` only with --dispatch-policy-module) */
  available: z.array(DispatchPolicySchema),
});
export type DispatchPolicyResponse = z.infer<typeof DispatchPolicyResponseSchema>;
