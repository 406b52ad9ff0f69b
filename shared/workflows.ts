/**
 * Workflows: a user's DAG of jobs, each run as a worker on granted resources once its parents have succeeded. The
 * bodies keep the reference's paths' field names (`user_id`, `job_type`, `branch_id`, `parent_indices`, snake_case);
 * `resources` uses the scheduler's names (`cpu` millicores, `memoryMiB`, `gpus` or `gpuMemoryMiB`). Times are ISO 8601
 * strings, like the reference's `created_at`. Also the `workflow_update` payload.
 */
import { z } from 'zod';
import { decimalInt } from './query.ts';
import { JOB_STATUSES, WORKFLOW_STATUSES } from './names.ts';
import { GpuModelsSchema, nameSchema } from './scheduler.ts';

const text = z.string().min(1).max(256);

/** `POST /users/` */
export const UserCreateBodySchema = z.object({ username: nameSchema(128) }).meta({ id: 'UserCreateBody' });
export type UserCreateBody = z.infer<typeof UserCreateBodySchema>;
export const UserSchema = z.object({ id: z.string(), username: z.string(), created_at: z.string() }).meta({ id: 'User' });
export type User = z.infer<typeof UserSchema>;

/** What a job asks of the scheduler. */
export const JobResourcesSchema = z.strictObject({
  cpu: z.int().min(0).max(10_000_000).optional(),
  memoryMiB: z.int().min(0).max(1 << 30).optional(),
  gpus: z.int().min(0).max(1024).optional(),
  gpuMemoryMiB: z.int().min(0).max(1 << 24).optional(),
  /** its GPUs only of these models (a request's gpuModels) */
  gpuModels: GpuModelsSchema.optional(),
}).superRefine((r, ctx) => {
  if (r.gpus && r.gpuMemoryMiB) ctx.addIssue({ code: 'custom', path: ['gpuMemoryMiB'], message: 'gpus or gpuMemoryMiB, not both' });
  if (r.gpuModels && !(r.gpus || r.gpuMemoryMiB)) ctx.addIssue({ code: 'custom', path: ['gpuModels'], message: 'gpuModels constrains GPUs: ask for gpus or gpuMemoryMiB with it' });
  if (!(r.cpu || r.memoryMiB || r.gpus || r.gpuMemoryMiB)) ctx.addIssue({ code: 'custom', message: 'ask for at least one resource > 0 (cpu, memoryMiB, gpus or gpuMemoryMiB), or leave resources out for one core' });
});
export type JobResources = z.infer<typeof JobResourcesSchema>;

/** How a job runs: as a worker (a command, in a container when an image is named). Without it the job is manual. */
export const JobRunSchema = z.strictObject({
  cmd: z.union([z.string().min(1).max(8192), z.array(z.string().max(8192)).min(1).max(1024)]),
  container_image: text.optional(),
  env_vars: z.record(z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/, 'an environment variable name'), z.string().max(65_536)).optional(),
  backend: z.enum(['local', 'docker']).optional(),
});
export type JobRun = z.infer<typeof JobRunSchema>;

export const JobInputSchema = z.strictObject({
  name: text,
  job_type: text,
  /** jobs of one branch keep their order; different branches may run in parallel */
  branch_id: z.union([z.int(), text]),
  /** indices into the workflow's job list */
  parent_indices: z.array(z.int()).max(10_000).default([]),
  resources: JobResourcesSchema.optional(),
  run: JobRunSchema.optional(),
  timeoutMs: z.int().min(1).max(30 * 86_400_000).optional(),
  retries: z.int().min(0).max(100).default(0),
});
export type JobInput = z.infer<typeof JobInputSchema>;

/** `POST /workflows/` */
export const WorkflowCreateBodySchema = z.strictObject({
  user_id: z.string().min(1).max(128),
  name: text.optional(),
  jobs: z.array(JobInputSchema).min(1, 'a workflow has at least one job').max(100_000),
}).meta({ id: 'WorkflowCreateBody' });
export type WorkflowCreateBody = z.infer<typeof WorkflowCreateBodySchema>;
export const WorkflowCreatedSchema = z.object({ workflow_id: z.string(), job_count: z.int() });
export type WorkflowCreated = z.infer<typeof WorkflowCreatedSchema>;

export const JobStatusSchema = z.enum(JOB_STATUSES);
export type JobStatus = z.infer<typeof JobStatusSchema>;
export const WorkflowStatusSchema = z.enum(WORKFLOW_STATUSES);
export type WorkflowStatus = z.infer<typeof WorkflowStatusSchema>;

const isoTime = z.string().nullable();
const id = z.string().nullable();

/** How a job runs, as GET answers it: the environment's names, never its values. */
export const JobRunViewSchema = z.object({
  cmd: z.union([z.string(), z.array(z.string())]),
  container_image: z.string().optional(),
  backend: z.enum(['local', 'docker']).optional(),
  env_names: z.array(z.string()),
});
export type JobRunView = z.infer<typeof JobRunViewSchema>;

/** One job of a workflow, as it is now. */
export const JobSchema = z.object({
  index: z.int().nonnegative(),
  name: z.string(),
  job_type: z.string(),
  branch_id: z.union([z.int(), z.string()]),
  parent_indices: z.array(z.int()),
  /** the job of its branch listed before it, when that is not a parent already: it runs after that one too */
  branch_after: z.int().nullable(),
  status: JobStatusSchema,
  /** no `run`: it waits READY until its result is posted (POST /workflows/{id}/jobs/{index}/complete) */
  manual: z.boolean(),
  /** what its request asks for (the default when the job named none), null for a manual job */
  resources: z.object({ cpu: z.int(), memoryMiB: z.int(), gpus: z.int(), gpuMemoryMiB: z.int().optional(), gpuModels: z.array(z.string()).optional() }).nullable(),
  run: JobRunViewSchema.nullable(),
  timeoutMs: z.int().nullable(),
  retries: z.int(),
  /** runs started so far (a run preempted by the scheduler is not counted: it starts again) */
  attempts: z.int(),
  /** longest path from a root (the DAG view draws by it) */
  depth: z.int(),
  ready_at: isoTime,
  started_at: isoTime,
  ended_at: isoTime,
  exit_code: z.int().nullable(),
  /** the last lines of its last run's output */
  log_tail: z.array(z.string()),
  /** what a manual job's completion posted */
  result: z.unknown().optional(),
  /** why it is where it is, in words: queued behind whom, how it failed, which failure skipped it */
  why: z.string().nullable(),
  request_id: id,
  allocation_id: id,
  /** its last run's worker (GET /api/workers/{id}/logs has its whole output) */
  worker_id: id,
}).meta({ id: 'Job' });
export type Job = z.infer<typeof JobSchema>;

/** A workflow without its jobs (lists and events): how many jobs are in which state. */
export const WorkflowSummarySchema = z.object({
  id: z.string(),
  user_id: z.string(),
  username: z.string(),
  name: z.string().nullable(),
  status: WorkflowStatusSchema,
  created_at: z.string(),
  started_at: isoTime,
  ended_at: isoTime,
  job_count: z.int(),
  counts: z.partialRecord(JobStatusSchema, z.int()),
}).meta({ id: 'WorkflowSummary' });
export type WorkflowSummary = z.infer<typeof WorkflowSummarySchema>;

/** `GET /workflows/{id}` */
export const WorkflowSchema = WorkflowSummarySchema.extend({ jobs: z.array(JobSchema) }).meta({ id: 'Workflow' });
export type Workflow = z.infer<typeof WorkflowSchema>;

/** `GET /workflows?user_id=&status=` */
export const WorkflowsQuerySchema = z.object({
  user_id: z.string().max(128).optional(),
  status: WorkflowStatusSchema.optional(),
  limit: decimalInt(1, 10_000).default(200),
});
export const WorkflowsResponseSchema = z.object({ workflows: z.array(WorkflowSummarySchema) });
export type WorkflowsResponse = z.infer<typeof WorkflowsResponseSchema>;

/** `POST /workflows/{id}/jobs/{index}/complete`: a manual job's result. */
export const JobCompleteBodySchema = z.strictObject({
  status: z.enum(['SUCCEEDED', 'FAILED']),
  result: z.unknown().optional(),
}).meta({ id: 'JobCompleteBody' });
export type JobCompleteBody = z.infer<typeof JobCompleteBodySchema>;

/** The `data` of a `workflow_update` event: the workflow's summary, and the job that changed (job_state). */
export const WorkflowChangeSchema = z.object({
  kind: z.enum(['workflow_created', 'workflow_state', 'job_state']),
  at: z.number(),
  workflow: WorkflowSummarySchema,
  job: JobSchema.optional(),
  /** the state before: the job's (job_state) or the workflow's (workflow_state) */
  previous: z.union([JobStatusSchema, WorkflowStatusSchema]).optional(),
});
export type WorkflowChange = z.infer<typeof WorkflowChangeSchema>;
