/** The task dispatch routes as the dashboard calls them (`/api/dispatch/…`; any other frontend could make the same calls). */
import type { Session } from '../../../shared/api.ts';
import type {
  DispatchInstancesResponse, DispatchPolicy, DispatchPolicyResponse, DispatchTasksResponse, QueueInfoResponse,
} from '../../../shared/dispatch.ts';
import { callJson, getJson } from '../lib/api.ts';

/** GET/PUT /api/dispatch/policy: the policy in force and those this server can switch to (`available`). */
export type PolicyAnswer = DispatchPolicyResponse;

export interface DispatchApi {
  /** GET /api/session: whether this session's token may switch the policy (the admin right) */
  session(): Promise<Session>;
  instances(): Promise<DispatchInstancesResponse>;
  /** the newest `limit` tasks (1–1000), newest first */
  tasks(limit: number): Promise<DispatchTasksResponse>;
  /** expected wait and its error (seconds) of every instance, or of one model's */
  queueInfo(model?: string): Promise<QueueInfoResponse>;
  policy(): Promise<PolicyAnswer>;
  /** needs the admin right: 403 otherwise; `custom` without a configured module: 422 `no_custom_policy` */
  setPolicy(policy: DispatchPolicy): Promise<PolicyAnswer>;
}

const enc = encodeURIComponent;

export const dispatchApi: DispatchApi = {
  session: () => getJson<Session>('/api/session'),
  instances: () => getJson<DispatchInstancesResponse>('/api/dispatch/instances'),
  tasks: (limit) => getJson<DispatchTasksResponse>(`/api/dispatch/tasks?limit=${Math.min(1000, Math.max(1, Math.floor(limit)))}`),
  queueInfo: (model) => getJson<QueueInfoResponse>(model === undefined ? '/api/dispatch/queue/info' : `/api/dispatch/queue/info?model_name=${enc(model)}`),
  policy: () => getJson<PolicyAnswer>('/api/dispatch/policy'),
  setPolicy: (policy) => callJson<PolicyAnswer>('PUT', '/api/dispatch/policy', { policy }),
};
