/**
 * Workers: groups of replicas that run on what the scheduler grants — local processes or containers — with an
 * engine created in each and called by name. The REST bodies keep the reference API's names (snake_case:
 * `container_image`, `env_vars`, `init_config`, `allocation_id`…); `cpu` is millicores, `gpu` whole GPUs, `mem` MiB.
 * Also the worker side's contract (what a worker serves on its port: `GET /health`, `POST /engine`, `POST /call`),
 * which both runtimes (`arbiter worker`, `python3 -m arbiter_worker`) implement, and the `worker_update` payload.
 */
import { z } from 'zod';
import { decimalInt } from './query.ts';
import { WORKER_BACKENDS, WORKER_STATES } from './names.ts';
import { GpuModelsSchema, NameSchema } from './scheduler.ts';

export const WorkerStateSchema = z.enum(WORKER_STATES);
export type WorkerState = z.infer<typeof WorkerStateSchema>;
export const WorkerBackendSchema = z.enum(WORKER_BACKENDS);
export type WorkerBackend = z.infer<typeof WorkerBackendSchema>;

const text = z.string().min(1).max(256);
const port = z.int().min(1).max(65_535);
const jsonObject = z.record(z.string(), z.unknown());

/** A group's name: unique among live groups; letters, digits and `._/-` (it names containers and log files). */
export const WorkerGroupNameSchema = z.string().min(1).max(128).regex(/^[A-Za-z0-9][A-Za-z0-9._/-]*$/, 'letters, digits and . _ / - only, starting with a letter or digit');

/** One replica's resources and how to run it (the reference API's ContainerSpec). */
export const ContainerSpecSchema = z.strictObject({
  /** millicores */
  cpu: z.int().min(0).max(10_000_000),
  /** whole GPUs */
  gpu: z.int().min(0).max(1024),
  /** MiB */
  mem: z.int().min(0).max(1 << 30),
  /** MiB of one GPU, shared with others whose memory fits (instead of whole GPUs; gpu then 0 or 1) */
  gpu_mem: z.int().min(1).max(1 << 24).optional(),
  /** its GPUs (gpu or gpu_mem) only of these models: `A100` matches `NVIDIA A100-SXM4-80GB` (a request's gpuModels) */
  gpu_models: GpuModelsSchema.optional(),
  /** the image (docker backend) */
  container_image: text.optional(),
  /** a command line (run by /bin/sh -c) or an argv */
  cmd: z.union([z.string().min(1).max(8192), z.array(z.string().max(8192)).min(1).max(1024)]),
  env_vars: z.record(z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/, 'an environment variable name'), z.string().max(65_536)).optional(),
  /** the port the worker listens on; a free one is chosen (and given as ARBITER_PORT) when unset */
  port: port.optional(),
}).superRefine((s, ctx) => {
  if (s.gpu_models && !(s.gpu > 0 || s.gpu_mem)) ctx.addIssue({ code: 'custom', path: ['gpu_models'], message: 'gpu_models constrains GPUs: ask for gpu or gpu_mem with it' });
}).meta({ id: 'ContainerSpec' });
export type ContainerSpec = z.infer<typeof ContainerSpecSchema>;

/** `POST /api/workers`: `specs` has one entry for every replica, or one per replica. */
export const WorkersCreateBodySchema = z.strictObject({
  name: WorkerGroupNameSchema,
  replicas: z.int().min(1).max(256),
  specs: z.array(ContainerSpecSchema).min(1).max(256),
  backend: WorkerBackendSchema.optional(),
  owner: NameSchema.optional(),
  group: text.optional(),
  priority: z.int().min(-1_000_000).max(1_000_000).optional(),
  preemptible: z.boolean().optional(),
  /** run on this node only (a name of GET /api/nodes); absent: where the strategy places it */
  node: text.optional(),
}).superRefine((b, ctx) => {
  if (b.specs.length !== 1 && b.specs.length !== b.replicas) {
    ctx.addIssue({ code: 'custom', path: ['specs'], message: `one spec for every replica or one per replica (${b.replicas}), not ${b.specs.length}` });
  }
}).meta({ id: 'WorkersCreateBody' });
export type WorkersCreateBody = z.infer<typeof WorkersCreateBodySchema>;

export const WorkerSchema = z.object({
  /** `<group>-<replica>` */
  id: z.string(),
  /** the group's name */
  name: z.string(),
  replica: z.int().nonnegative(),
  state: WorkerStateSchema,
  backend: WorkerBackendSchema,
  owner: z.string(),
  /** the node it runs on (its allocation's); null before its grant */
  node: z.string().nullable().default(null),
  /** where its port is reached */
  host: z.string(),
  port: z.int().nullable(),
  /** GPU indices it was granted (CUDA_VISIBLE_DEVICES) */
  gpus: z.array(z.int().nonnegative()),
  allocation_id: z.string().nullable(),
  request_id: z.string().nullable(),
  exit_code: z.int().nullable(),
  /** ms since epoch */
  started_at: z.number().nullable(),
  /** when it ended (exited, failed, stopped, preempted), ms since epoch */
  ended_at: z.number().nullable().default(null),
  /** the last lines of its output */
  log_tail: z.array(z.string()),
  /** the engine created in it (`module#Export` / `package.module:Class`) */
  engine: z.string().nullable(),
  /** why it is not running, in words (queued behind whom, starting, exited with code N…) */
  why: z.string().nullable(),
}).meta({ id: 'Worker' });
export type Worker = z.infer<typeof WorkerSchema>;

export const WorkerGroupResponseSchema = z.object({ name: z.string(), workers: z.array(WorkerSchema) });
export type WorkerGroupResponse = z.infer<typeof WorkerGroupResponseSchema>;
export const WorkersResponseSchema = z.object({ workers: z.array(WorkerSchema) });
export type WorkersResponse = z.infer<typeof WorkersResponseSchema>;

/** `GET /api/workers?name=&timeoutMs=` */
export const WorkersQuerySchema = z.object({
  name: z.string().max(128).optional(),
  timeoutMs: decimalInt(0, 3_600_000).optional(),
});
/** `DELETE /api/workers[?owner=]`: every live group (of that owner) */
export const WorkersDeleteQuerySchema = z.object({ owner: z.string().min(1).max(256).optional() });
/** The 408 of `GET /api/workers?timeoutMs=`: each replica that is not ready, and why. */
export const NotReadyDetailSchema = z.object({ id: z.string(), state: WorkerStateSchema, why: z.string() });
export type NotReadyDetail = z.infer<typeof NotReadyDetailSchema>;

export const WorkerLogsQuerySchema = z.object({ tail: decimalInt(1, 100_000).default(200) });
export const WorkerLogsResponseSchema = z.object({ id: z.string(), lines: z.array(z.string()) });
export type WorkerLogsResponse = z.infer<typeof WorkerLogsResponseSchema>;

// ------------------------------------------------------------------ engines: Arbiter's routes and the worker's own

/** `POST /api/workers/{id}/engine` and the worker's `POST /engine`: an engine named, never pickled. */
export const EngineBodySchema = z.strictObject({
  /** `path/to/module.js#ExportName` (arbiter worker) or `package.module:ClassName` (python3 -m arbiter_worker) */
  engine: z.string().min(1).max(1024),
  init_config: z.unknown().optional(),
}).meta({ id: 'EngineBody' });
export type EngineBody = z.infer<typeof EngineBodySchema>;
export const EngineResponseSchema = z.object({ engine: z.string() });
export type EngineResponse = z.infer<typeof EngineResponseSchema>;

/** `POST /api/workers/{id}/call` and the worker's `POST /call` */
export const CallBodySchema = z.strictObject({
  method: z.string().min(1).max(256),
  args: z.array(z.unknown()).max(10_000).default([]),
  kwargs: jsonObject.default({}),
}).meta({ id: 'CallBody' });
export type CallBody = z.input<typeof CallBodySchema>;
export const CallResponseSchema = z.object({ result: z.unknown() });
export type CallResponse = z.infer<typeof CallResponseSchema>;

/** An exception raised by the engine, as the worker reports it (HTTP 500 from the worker; 502 through Arbiter). */
export const EngineErrorSchema = z.object({
  error: z.object({
    code: z.literal('engine_error'),
    message: z.string(),
    /** the exception's class name (`ValueError`, `TypeError`…) */
    remote_type: z.string(),
    remote_stack: z.string(),
  }),
});
export type EngineError = z.infer<typeof EngineErrorSchema>;

/** The worker's `GET /health` */
export const WorkerHealthSchema = z.object({
  status: z.literal('ok'),
  worker_id: z.string().nullable(),
  engine: z.string().nullable(),
  runtime: z.string(),
}).loose();
export type WorkerHealth = z.infer<typeof WorkerHealthSchema>;

// ------------------------------------------------------------------ Arbiter's record of a worker (the store)

/** How to find a worker again after Arbiter restarts (server/runtime/workers/backend.ts). */
export const WorkerRefSchema = z.discriminatedUnion('kind', [
  /** a process group led by `pid`; `startTime` (field 22 of /proc/<pid>/stat) tells it from a later process with the same pid */
  z.object({ kind: z.literal('local'), pid: z.int(), startTime: z.number(), logFile: z.string() }),
  z.object({ kind: z.literal('docker'), containerId: z.string() }),
]);
export type WorkerRef = z.infer<typeof WorkerRefSchema>;

/** What Arbiter keeps of a worker: its public view, the spec it runs, how it was asked for, where it runs. */
export const WorkerRecordSchema = z.object({
  worker: WorkerSchema,
  spec: ContainerSpecSchema,
  /** the scheduler request's fields */
  ask: z.object({ owner: z.string(), group: z.string().optional(), priority: z.int(), preemptible: z.boolean(), node: z.string().optional() }),
  ref: WorkerRefSchema.nullable(),
  /** its port has answered GET /health at least once (a worker suspended while starting resumes to starting) */
  answered: z.boolean().default(false),
  /** why Arbiter is stopping it: the state it ends in once it has exited */
  stopping: z.enum(['stopped', 'preempted']).nullable(),
});
export type WorkerRecord = z.infer<typeof WorkerRecordSchema>;

// ------------------------------------------------------------------ push

const at = z.number();
/** The `data` of a `worker_update` event: the worker as it is now, and what changed. */
export const WorkerChangeSchema = z.object({
  kind: z.enum(['worker_created', 'worker_state', 'worker_engine', 'worker_removed']),
  at,
  worker: WorkerSchema,
  /** its state before (worker_state) */
  previous: WorkerStateSchema.optional(),
});
export type WorkerChange = z.infer<typeof WorkerChangeSchema>;
