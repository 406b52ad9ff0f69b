import { Router } from 'express';
import type { Metrics } from '../../metrics.ts';

/** GET /metrics: Prometheus text format (behind the token, like the API). */
export function metricsRoutes(metrics: Metrics): Router {
  const r = Router();
  r.get('/metrics', async (_req, res) => {
    res.type(metrics.registry.contentType).send(await metrics.registry.metrics());
  });
  return r;
}
