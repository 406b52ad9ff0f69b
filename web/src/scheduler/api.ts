/** The scheduler's REST routes as the dashboard calls them (any other frontend could make the same calls). */
import type { z } from 'zod';
import type { AllocationsResponseSchema, Session } from '../../../shared/api.ts';
import type { Hint } from '../../../shared/hints.ts';
import type { Allocation, Conflict, QueueEntryView, QueueOrder, Request, RequestInputBody, StrategyName } from '../../../shared/scheduler.ts';
import type { StrategyState } from '../../../shared/strategy.ts';
import { callJson, getJson } from '../lib/api.ts';

export interface QueuePage {
  order: QueueOrder;
  total: number;
  limit: number;
  offset: number;
  items: QueueEntryView[];
}

/** GET /api/allocations: each allocation (AllocationView) with the owner of its request (absent from older servers). */
export type AllocationList = z.infer<typeof AllocationsResponseSchema>;

export interface ConflictPage {
  total: number;
  items: Conflict[];
}

/** POST /api/requests: 201 granted (with its allocation) or 202 queued (with its conflict). */
export interface SubmitResult {
  request: Request;
  allocation?: Allocation;
  conflict?: Conflict;
  replayed?: boolean;
}

/** GET /api/strategy; `config` and `since` are absent on servers older than the strategy endpoints. */
export type StrategyAnswer = Pick<StrategyState, 'name'> & Partial<Omit<StrategyState, 'name'>>;

/** Most rows asked for at once (the API's maximum page). */
export const PAGE_MAX = 1000;

const enc = encodeURIComponent;

/** POST /api/conflicts/:id/resolve: the conflict after the attempt; `preempting` (202) when holders were given notice. */
export type ResolveResult = Conflict & { action?: string; strategy?: StrategyName; resolvesAt?: number };

export interface SchedulerApi {
  queue(order: QueueOrder): Promise<QueuePage>;
  conflicts(order: QueueOrder): Promise<ConflictPage>;
  /** the active allocations; with `endedSinceMs`, also those that ended at or after it (`state=all`) */
  allocations(endedSinceMs?: number): Promise<AllocationList>;
  request(id: string): Promise<Request>;
  hints(): Promise<{ hints: Hint[] }>;
  strategy(): Promise<StrategyAnswer>;
  submit(body: RequestInputBody): Promise<SubmitResult>;
  cancel(requestId: string): Promise<Request>;
  release(allocationId: string): Promise<Allocation>;
  resolve(conflictId: string, strategy?: StrategyName): Promise<ResolveResult>;
  /** who this token is: its role, and the owner it is bound to */
  session(): Promise<Session>;
}

export const schedulerApi: SchedulerApi = {
  queue: (order) => getJson<QueuePage>(`/api/queue?order=${order}&limit=${PAGE_MAX}`),
  conflicts: (order) => getJson<ConflictPage>(`/api/conflicts?status=open&order=${order}&limit=${PAGE_MAX}`),
  allocations: (endedSinceMs) =>
    getJson<AllocationList>(endedSinceMs === undefined ? '/api/allocations' : `/api/allocations?state=all&sinceMs=${Math.max(0, Math.floor(endedSinceMs))}`),
  request: (id) => getJson<Request>(`/api/requests/${enc(id)}`),
  hints: () => getJson<{ hints: Hint[] }>('/api/hints?status=active'),
  strategy: () => getJson<StrategyAnswer>('/api/strategy'),
  submit: (body) => callJson<SubmitResult>('POST', '/api/requests', body),
  cancel: (id) => callJson<Request>('DELETE', `/api/requests/${enc(id)}`),
  release: (id) => callJson<Allocation>('DELETE', `/api/allocations/${enc(id)}`),
  resolve: (id, strategy) => callJson<ResolveResult>('POST', `/api/conflicts/${enc(id)}/resolve`, strategy ? { strategy } : {}),
  session: () => getJson<Session>('/api/session'),
};
