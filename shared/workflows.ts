/**
 * Workflows: a user's DAG of jobs, each run as a worker on granted resources once its parents have succeeded. The
 * bodies keep the reference's paths' field names (`user_id`, `job_type`, `branch_id`, `parent_indices`, snake_case);
 * `resources` uses the scheduler's names (`cpu` millicores, `memoryMiB`, `gpus` or `gpuMemoryMiB`).
 */
import { z } from 'zod';

const text = z.string().min(1).max(256);

/** `POST /users/` */
export const UserCreateBodySchema = z.object({ username: z.string().min(1).max(128) }).meta({ id: 'UserCreateBody' });
export type UserCreateBody = z.infer<typeof UserCreateBodySchema>;
export const UserSchema = z.object({ id: z.string(), username: z.string(), created_at: z.string() }).meta({ id: 'User' });
export type User = z.infer<typeof UserSchema>;

/** What a job asks of the scheduler. */
export const JobResourcesSchema = z.strictObject({
  cpu: z.int().min(0).max(10_000_000).optional(),
  memoryMiB: z.int().min(0).max(1 << 30).optional(),
  gpus: z.int().min(0).max(1024).optional(),
  gpuMemoryMiB: z.int().min(0).max(1 << 24).optional(),
}).refine((r) => !(r.gpus && r.gpuMemoryMiB), { message: 'gpus or gpuMemoryMiB, not both' });
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
