import { Router } from 'express';
import type { ResourceStatus } from '../../../shared/resources.ts';
import { HttpError } from '../errors.ts';

/** GET /api/status (latest snapshot), /api/status/cpu, /api/status/memory. */
export function statusRoutes(snapshot: () => ResourceStatus): Router {
  const r = Router();
  r.get('/api/status', (_req, res) => {
    res.json(snapshot());
  });
  const hostPart = (part: 'cpu' | 'memory' | 'disks' | 'network') => {
    const s = snapshot();
    if (!s.host) throw new HttpError(503, 'not_ready', `no host sample yet (host source: ${s.sources.host?.status ?? 'starting'})`);
    return { sampledAt: s.host.sampledAt, [part]: s.host[part] };
  };
  for (const part of ['cpu', 'memory', 'disks', 'network'] as const) {
    r.get(`/api/status/${part}`, (_req, res) => {
      res.json(hostPart(part));
    });
  }
  return r;
}
