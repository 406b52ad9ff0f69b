import { Router } from 'express';
import type { ResourceStatus } from '../../../shared/resources.ts';
import { ContainerIdParamsSchema, GpuIndexParamsSchema } from '../../../shared/api.ts';
import { HttpError, parseInput } from '../errors.ts';

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
  r.get('/api/status/gpus', (_req, res) => {
    const s = snapshot();
    res.json({ source: s.sources.gpu ?? null, gpus: s.gpus });
  });
  r.get('/api/status/gpus/:index', (req, res) => {
    const { index } = parseInput(GpuIndexParamsSchema, req.params, 'params');
    const gpu = snapshot().gpus.find((g) => g.index === index);
    if (!gpu) throw new HttpError(404, 'not_found', `no GPU with index ${index}`);
    res.json(gpu);
  });
  r.get('/api/status/containers', (_req, res) => {
    const s = snapshot();
    res.json({ source: s.sources.docker ?? null, containers: s.containers });
  });
  r.get('/api/status/containers/:id', (req, res) => {
    const { id } = parseInput(ContainerIdParamsSchema, req.params, 'params');
    const list = snapshot().containers;
    const found = list.filter((c) => c.name === id || c.id === id || (id.length >= 4 && c.id.startsWith(id)));
    if (found.length === 0) throw new HttpError(404, 'not_found', `no container with id or name "${id}"`);
    if (found.length > 1) throw new HttpError(409, 'ambiguous', `"${id}" matches ${found.length} containers; give more of the id`);
    res.json(found[0]);
  });
  return r;
}
