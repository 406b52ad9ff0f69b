/** GET /api/nodes: every node the hub schedules on, with its reachability, capacity and what is allocated there. */
import { Router } from 'express';
import type { NodesResponse } from '../../../shared/agents.ts';

export function nodeRoutes(view: () => NodesResponse): Router {
  const r = Router();
  r.get('/api/nodes', (_req, res) => {
    res.json(view());
  });
  return r;
}
