import { Router } from 'express';
import { z } from 'zod';
import { TOKEN_QUERY } from '../../../shared/api.ts';
import type { HintBook } from '../../hints/book.ts';
import { parseInput } from '../errors.ts';

export const HintsQuerySchema = z.strictObject({ ...TOKEN_QUERY, status: z.enum(['active', 'cleared', 'all']).default('active') });

/** GET /api/hints?status=active|cleared|all */
export function hintRoutes(book: HintBook): Router {
  const r = Router();
  r.get('/api/hints', (req, res) => {
    const q = parseInput(HintsQuerySchema, req.query, 'query');
    res.json({ status: q.status, hints: book.list(q.status) });
  });
  return r;
}
