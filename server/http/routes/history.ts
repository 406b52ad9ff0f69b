import { Router } from 'express';
import { HistoryQuerySchema, type HistoryResponse } from '../../../shared/api.ts';
import type { History } from '../../monitor/history.ts';
import { HttpError, parseInput } from '../errors.ts';

/** GET /api/history?series=a,b&sinceMs=&untilMs=&stepMs= and GET /api/history/series. */
export function historyRoutes(history: History, now: () => number): Router {
  const r = Router();
  r.get('/api/history/series', (_req, res) => {
    res.json({ series: history.names() });
  });
  r.get('/api/history', (req, res) => {
    const q = parseInput(HistoryQuerySchema, req.query, 'query');
    const unknown = q.series.filter((s) => !history.has(s));
    if (unknown.length) {
      throw new HttpError(404, 'unknown_series', `unknown series: ${unknown.join(', ')} (GET /api/history/series lists them)`, { series: unknown });
    }
    const until = q.untilMs ?? now();
    const since = q.sinceMs ?? until - 3600_000;
    if (since > until) throw new HttpError(400, 'invalid_request', 'invalid query: sinceMs: must not be after untilMs', [{ field: 'sinceMs', message: 'must not be after untilMs' }]);
    const body: HistoryResponse = { series: q.series.map((name) => ({ name, ...history.query(name, since, until, q.stepMs) })) };
    res.json(body);
  });
  return r;
}
