import { Router, type Request } from 'express';
import type { HealthResponse } from '../../../shared/api.ts';
import type { SourceStatus } from '../../../shared/resources.ts';
import { VERSION } from '../../version.ts';

/**
 * GET /api/health — no auth needed: for load balancers and uptime checks, `{status}`; with a valid token also the
 * version, uptime, node and sources (a host name, a version and a source's paths say too much to anyone who asks).
 */
export function healthRoutes(deps: { startedAt: number; now: () => number; node: string; sources: () => Record<string, SourceStatus>; authorized: (req: Request) => boolean }): Router {
  const r = Router();
  r.get('/api/health', (req, res) => {
    const sources = deps.sources();
    const status = Object.values(sources).some((s) => s.status === 'error') ? 'degraded' : 'ok';
    const body: HealthResponse = deps.authorized(req)
      ? { status, version: VERSION, uptimeMs: deps.now() - deps.startedAt, node: deps.node, sources }
      : { status };
    res.json(body);
  });
  return r;
}
