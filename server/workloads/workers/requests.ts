/**
 * A worker in the scheduler's terms and back: the resource request of a replica (cpu → millicores, mem →
 * memoryMiB, gpu → whole GPUs; owner, group, priority, preemptible as asked; labelled with the worker and its
 * group; `gpu_mem` → gpuMemMiB, a share of one GPU; `gpu_models` → gpuModels; pinned to a node or placed by the
 * strategy), the environment it
 * starts with, and why it waits, in words, from its request's open conflict.
 */
import type { Conflict, ConflictHolder, RequestInputBody, Resources } from '../../../shared/scheduler.ts';
import type { ContainerSpec, WorkerRecord } from '../../../shared/workers.ts';

/** Labels of a worker's request: the dashboard and the queue tell worker requests by them. */
export const WORKER_LABEL = 'arbiter.worker';
export const GROUP_LABEL = 'arbiter.group';

/**
 * The request of a replica. `node`: the only node it may be placed on (the worker's own `node`, or the server's
 * machine when no agent runs workers); undefined: any node, where the worker then starts on that node's agent.
 */
export function requestOf(r: WorkerRecord, node: string | undefined): RequestInputBody {
  const { spec, ask, worker } = r;
  return {
    owner: ask.owner,
    ...(ask.group !== undefined ? { group: ask.group } : {}),
    priority: ask.priority,
    preemptible: ask.preemptible,
    resources: specResources(spec),
    labels: { [WORKER_LABEL]: worker.id, [GROUP_LABEL]: worker.name },
    ...(node !== undefined ? { node } : {}),
    ...(spec.gpu_models ? { gpuModels: spec.gpu_models } : {}),
  };
}

/** A replica's spec in the scheduler's resources. */
export function specResources(spec: ContainerSpec): Resources {
  return { cpu: spec.cpu, memoryMiB: spec.mem, gpus: spec.gpu, ...(spec.gpu_mem ? { gpuMemMiB: spec.gpu_mem } : {}) };
}

/**
 * What a worker starts with on top of the backend's base environment: its env_vars, then Arbiter's (which win):
 * ARBITER_WORKER_ID, ARBITER_PORT, and exactly its GPUs as CUDA_VISIBLE_DEVICES (and NVIDIA_VISIBLE_DEVICES, which
 * the NVIDIA container runtime reads) — empty when it has none, so a worker never sees a GPU it was not granted.
 */
export function workerEnv(r: WorkerRecord, port: number, gpus: readonly number[]): Record<string, string> {
  const visible = gpus.join(',');
  return {
    ...(r.spec.env_vars ?? {}),
    ARBITER_WORKER_ID: r.worker.id,
    ARBITER_PORT: String(port),
    CUDA_VISIBLE_DEVICES: visible,
    NVIDIA_VISIBLE_DEVICES: gpus.length ? visible : 'none',
  };
}

function holderText(h: ConflictHolder): string {
  if (h.kind === 'process') return `${h.name}${h.pid !== null ? ` (pid ${h.pid})` : ''} on GPU ${h.gpuIndex} without an allocation`;
  return `${h.owner} (request ${h.requestId}, priority ${h.priority}${h.gpuIndices.length ? `, GPU ${h.gpuIndices.join(', ')}` : ''})`;
}

/** "queued behind ana (request …, priority 5, GPU 0, 1): gpu: needs 2, 0 free: 1 allocation(s) in the way …" */
export function whyQueued(conflict: Conflict | null): string {
  if (!conflict) return 'queued: waiting for the next scheduling pass';
  const behind = conflict.holders.length ? ` behind ${conflict.holders.map(holderText).join(', ')}` : '';
  return `queued${behind}: ${conflict.message}`;
}
