import { Router } from 'express';
import { EventsQuerySchema } from '../../../shared/api.ts';
import type { SseServer } from '../../push/sse.ts';
import { parseInput } from '../errors.ts';

/**
 * GET /api/events?types=…&lastEventId=… (SSE). The resume point comes from `Last-Event-ID` (the header, which wins
 * as the browser sends it on reconnect) or `lastEventId`; a bad type or id is a 400 naming the field.
 */
export function eventRoutes(sse: SseServer): Router {
  const r = Router();
  r.get('/api/events', (req, res) => {
    const query = parseInput(EventsQuerySchema, req.query, 'query');
    const header = req.header('last-event-id');
    const lastEventId = header !== undefined && header !== '' ? parseInput(EventsQuerySchema.shape.lastEventId, header, 'query') : query.lastEventId;
    sse.open(req, res, { types: query.types, lastEventId });
  });
  return r;
}
