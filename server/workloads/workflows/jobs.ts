/**
 * A workflow job in the workers' terms: the resources its request asks for (a job that names none asks for one
 * core), the worker group that runs it (one replica, named after the workflow, the job and the launch, so that a
 * restart finds the worker of a launch it had not recorded yet), and which backend runs it.
 */
import type { ContainerSpec, WorkerBackend, WorkersCreateBody } from '../../../shared/workers.ts';
import type { Job, JobInput } from '../../../shared/workflows.ts';

/** What a job asks for when it names no resources: one core. */
export const DEFAULT_JOB_RESOURCES = { cpu: 1000, memoryMiB: 0, gpus: 0 } as const;

export type JobAsk = NonNullable<Job['resources']>;

/** The resources of a job's request (null: a manual job asks for nothing). */
export function jobResources(job: JobInput): JobAsk | null {
  if (!job.run) return null;
  const r = job.resources;
  if (!r) return { ...DEFAULT_JOB_RESOURCES };
  return {
    cpu: r.cpu ?? 0,
    memoryMiB: r.memoryMiB ?? 0,
    gpus: r.gpus ?? 0,
    ...(r.gpuMemoryMiB ? { gpuMemoryMiB: r.gpuMemoryMiB } : {}),
    ...(r.gpuModels ? { gpuModels: r.gpuModels } : {}),
  };
}

/** Where a job runs: as it says, else in a container when it names an image, else the server's default. */
export function jobBackend(job: JobInput, fallback: WorkerBackend): WorkerBackend {
  return job.run?.backend ?? (job.run?.container_image ? 'docker' : fallback);
}

/** The worker group of one launch of a job: `wf-<workflow>-<index>-<launch>` (its one worker is `<group>-0`). */
export function jobGroupName(workflowId: string, index: number, launch: number): string {
  return `wf-${workflowId}-${index}-${launch}`;
}

export function jobWorkerId(workflowId: string, index: number, launch: number): string {
  return `${jobGroupName(workflowId, index, launch)}-0`;
}

/** The body that asks for the worker of one launch of a job, owned by the workflow's user. */
export function jobWorkerBody(workflowId: string, index: number, launch: number, job: JobInput, owner: string, backend: WorkerBackend): WorkersCreateBody {
  const run = job.run;
  const ask = jobResources(job);
  if (!run || !ask) throw new Error(`job ${index} is manual: it runs no worker`);
  const spec: ContainerSpec = {
    cpu: ask.cpu, mem: ask.memoryMiB, gpu: ask.gpus,
    ...(ask.gpuMemoryMiB ? { gpu_mem: ask.gpuMemoryMiB } : {}),
    ...(ask.gpuModels ? { gpu_models: ask.gpuModels } : {}),
    cmd: run.cmd,
    ...(run.container_image ? { container_image: run.container_image } : {}),
    env_vars: { ...(run.env_vars ?? {}), ARBITER_WORKFLOW_ID: workflowId, ARBITER_JOB_INDEX: String(index), ARBITER_JOB_NAME: job.name },
  };
  return { name: jobGroupName(workflowId, index, launch), replicas: 1, specs: [spec], backend, owner };
}
