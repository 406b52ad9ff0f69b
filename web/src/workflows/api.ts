/** The workflow routes as the dashboard calls them (`/api/workflows…`; any other frontend could make the same calls). */
import type { Workflow, WorkflowsResponse } from '../../../shared/workflows.ts';
import { callJson, getJson } from '../lib/api.ts';

export interface WorkflowsApi {
  /** the newest `limit` workflows' summaries (1–10,000), newest first */
  list(limit: number): Promise<WorkflowsResponse>;
  /** one workflow with its jobs (each with its depth); 404 `not_found` */
  get(id: string): Promise<Workflow>;
  /** cancels every job not ended (running ones are stopped); answers the workflow */
  cancel(id: string): Promise<Workflow>;
  /** runs the failed and skipped jobs again (what succeeded stays); answers the workflow */
  retry(id: string): Promise<Workflow>;
}

const enc = encodeURIComponent;

export const workflowsApi: WorkflowsApi = {
  list: (limit) => getJson<WorkflowsResponse>(`/api/workflows?limit=${Math.min(10_000, Math.max(1, Math.floor(limit)))}`),
  get: (id) => getJson<Workflow>(`/api/workflows/${enc(id)}`),
  cancel: (id) => callJson<Workflow>('DELETE', `/api/workflows/${enc(id)}`),
  retry: (id) => callJson<Workflow>('POST', `/api/workflows/${enc(id)}/retry`),
};
