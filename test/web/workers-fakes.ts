/** Worker records, pushed envelopes of them, and a worker API double for the Workers view's tests. */
import type { Envelope } from '../../shared/events.ts';
import type { Conflict } from '../../shared/scheduler.ts';
import type { Worker, WorkerChange, WorkerGroupResponse, WorkerLogsResponse, WorkersResponse } from '../../shared/workers.ts';
import type { WorkersApi } from '../../web/src/workers/api.ts';
import { T0 } from './scheduler-fakes.ts';

/** A running replica `<name>-<replica>` on GPU `replica`, unless told otherwise. */
export function worker(name: string, replica: number, over: Partial<Worker> = {}): Worker {
  return {
    id: `${name}-${replica}`, name, replica, state: 'running', backend: 'local', owner: 'exp', node: null, host: '127.0.0.1', port: 9100 + replica,
    gpus: [replica], allocation_id: `alloc-${name}-${replica}`, request_id: `req-${name}-${replica}`, exit_code: null, started_at: T0 - 60_000, ended_at: null,
    log_tail: [], engine: null, why: null, ...over,
  };
}

/** A replica waiting for its grant, as the server lists it (why from its request's conflict) or pushes it. */
export function queuedWorker(name: string, replica: number, why: string, over: Partial<Worker> = {}): Worker {
  return worker(name, replica, { state: 'queued', port: null, gpus: [], allocation_id: null, started_at: null, why, ...over });
}

let nextId = 500;
export function workerEnv(kind: WorkerChange['kind'], w: Worker, at: number, previous?: Worker['state']): Envelope<'worker_update'> {
  return { id: ++nextId, type: 'worker_update', ts: at, data: { kind, at, worker: w, ...(previous ? { previous } : {}) } };
}
export function conflictEnv(kind: 'conflict_opened' | 'conflict_updated' | 'conflict_resolved', c: Conflict, at: number): Envelope<'conflict'> {
  return { id: ++nextId, type: 'conflict', ts: at, data: { kind, at, conflict: c } };
}

/** Answers from its fields; records every call. A method may be replaced to fail or to hold its answer. */
export class FakeWorkersApi implements WorkersApi {
  calls: string[] = [];
  workers: Worker[] = [];
  logLines = new Map<string, string[]>();
  /** replace to hold or fail a DELETE; by default every replica of the group ends stopped */
  onRemove: (name: string) => Promise<WorkerGroupResponse> = (name) => {
    this.workers = this.workers.map((w) => (w.name === name && !['exited', 'failed', 'stopped', 'preempted'].includes(w.state) ? { ...w, state: 'stopped', why: 'deleted' } : w));
    return Promise.resolve({ name, workers: this.workers.filter((w) => w.name === name) });
  };
  /** replace to hold or fail a read of the output */
  onLogs: (id: string, tail: number) => Promise<WorkerLogsResponse> = (id, tail) => Promise.resolve({ id, lines: (this.logLines.get(id) ?? []).slice(-tail) });

  count(call: string): number {
    return this.calls.filter((c) => c === call).length;
  }
  list(name?: string): Promise<WorkersResponse> {
    this.calls.push(name === undefined ? 'list' : `list:${name}`);
    return Promise.resolve({ workers: this.workers.filter((w) => name === undefined || w.name === name).map((w) => ({ ...w })) });
  }
  remove(name: string): Promise<WorkerGroupResponse> {
    this.calls.push(`remove:${name}`);
    return this.onRemove(name);
  }
  logs(id: string, tail: number): Promise<WorkerLogsResponse> {
    this.calls.push(`logs:${id}:${tail}`);
    return this.onLogs(id, tail);
  }
}
