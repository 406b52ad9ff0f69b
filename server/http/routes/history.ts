import { Router } from 'express';
import { HistoryQuerySchema, type HistoryResponse, type HistorySeries } from '../../../shared/api.ts';
import { HttpError, parseInput } from '../errors.ts';

/**
 * What the routes read: the in-memory History alone (`{t, v}`), or HistoryStore, which stitches memory onto the
 * on-disk tier and says the resolution of each run of points (`segments`).
 */
export interface HistoryReader {
  names(): string[];
  has(name: string): boolean;
  query(name: string, sinceMs: number, untilMs: number, stepMs?: number): Omit<HistorySeries, 'name'>;
}

/** GET /api/history?series=a,b&sinceMs=&untilMs=&stepMs= and GET /api/history/series. */
export function historyRoutes(history: HistoryReader, now: () => number): Router {
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
