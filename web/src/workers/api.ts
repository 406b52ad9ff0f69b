/** The worker routes as the dashboard calls them (`/api/workers…`; any other frontend could make the same calls). */
import type { WorkerGroupResponse, WorkerLogsResponse, WorkersResponse } from '../../../shared/workers.ts';
import { callJson, getJson } from '../lib/api.ts';

export interface WorkersApi {
  /** every worker (or one group's), each queued one with why it waits */
  list(name?: string): Promise<WorkersResponse>;
  /** stops the group (graceful stop, then kill; queued replicas withdrawn) and answers once every replica has ended; 404 `not_found` */
  remove(name: string): Promise<WorkerGroupResponse>;
  /** the last `tail` lines of a worker's output */
  logs(id: string, tail: number): Promise<WorkerLogsResponse>;
}

// group names and worker ids contain `/`: one path segment each
const enc = encodeURIComponent;

export const workersApi: WorkersApi = {
  list: (name) => getJson<WorkersResponse>(name === undefined ? '/api/workers' : `/api/workers?name=${enc(name)}`),
  remove: (name) => callJson<WorkerGroupResponse>('DELETE', `/api/workers/${enc(name)}`),
  logs: (id, tail) => getJson<WorkerLogsResponse>(`/api/workers/${enc(id)}/logs?tail=${Math.max(1, Math.floor(tail))}`),
};
