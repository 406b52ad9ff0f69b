import { Router } from 'express';
import type { HealthResponse } from '../../../shared/api.ts';
import type { SourceStatus } from '../../../shared/resources.ts';
import { VERSION } from '../../version.ts';

/** GET /api/health — no auth: for load balancers and uptime checks. */
export function healthRoutes(deps: { startedAt: number; now: () => number; node: string; sources: () => Record<string, SourceStatus> }): Router {
  const r = Router();
  r.get('/api/health', (_req, res) => {
    const sources = deps.sources();
    const body: HealthResponse = {
      status: Object.values(sources).some((s) => s.status === 'error') ? 'degraded' : 'ok',
      version: VERSION,
      uptimeMs: deps.now() - deps.startedAt,
      node: deps.node,
      sources,
    };
    res.json(body);
  });
  return r;
}
