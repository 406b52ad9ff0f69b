/** GET /api/nodes as the dashboard calls it (tests pass a fake). */
import type { NodesResponse } from '../../../shared/agents.ts';
import { getJson } from '../lib/api.ts';

export interface NodesApi {
  /** every node the server schedules on: reachability, last seen, capacity and what is allocated there */
  list(): Promise<NodesResponse>;
}

export const nodesApi: NodesApi = {
  list: () => getJson<NodesResponse>('/api/nodes'),
};
