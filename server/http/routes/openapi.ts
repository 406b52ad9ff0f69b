import { Router } from 'express';
import { buildOpenApi } from '../openapi.ts';

/** GET /api/openapi.json: the API description, built once from the shared zod schemas. */
export function openApiRoutes(): Router {
  const r = Router();
  const doc = buildOpenApi();
  r.get('/api/openapi.json', (_req, res) => {
    res.json(doc);
  });
  return r;
}
