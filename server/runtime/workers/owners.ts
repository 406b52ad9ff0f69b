/**
 * Which worker's allocation a GPU user (a process or container the monitor sees) runs under: a container by its id
 * (full or short), a process by its pid or its process group (a local worker leads its own). For the scheduler's
 * inventory: a worker's GPU use is its allocation's, not an unmanaged user in the way.
 */
import type { WorkerRecord } from '../../../shared/workers.ts';
import { LIVE } from '../../workloads/workers/book.ts';
import { readStat } from './proc.ts';

export type GpuUser = { pid: number | null; containerId: string | null; processGroup?: number | null };

/** A process's group id from /proc/<pid>/stat; null when it is gone. */
export function processGroupOf(pid: number): number | null {
  return readStat(pid)?.pgrp ?? null;
}

/** `records`: the workers of the node the user was seen on; `groupOf`: a pid's process group there. */
export function allocationOfGpuUser(records: readonly WorkerRecord[], user: GpuUser, groupOf: (pid: number) => number | null = processGroupOf): string | null {
  const live = records.filter((r) => LIVE.has(r.worker.state) && r.ref && r.worker.allocation_id);
  if (user.containerId) {
    const id = user.containerId;
    const r = live.find((w) => w.ref!.kind === 'docker' && (w.ref!.containerId.startsWith(id) || id.startsWith(w.ref!.containerId)));
    if (r) return r.worker.allocation_id;
  }
  if (user.pid !== null) {
    const group = groupOf(user.pid);
    const r = live.find((w) => w.ref!.kind === 'local' && (w.ref!.pid === user.pid || w.ref!.pid === group));
    if (r) return r.worker.allocation_id;
  }
  return null;
}
