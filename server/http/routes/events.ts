import { Router, type Request, type Response } from 'express';
import { z } from 'zod';
import { EventsQuerySchema } from '../../../shared/api.ts';
import type { SseFormat } from '../../push/sse-frame.ts';
import type { SseServer } from '../../push/sse.ts';
import { parseInput } from '../errors.ts';

/** The resume point as a reconnecting EventSource sends it: a 400 names the header. */
const LastEventIdHeaderSchema = z.object({ 'Last-Event-ID': EventsQuerySchema.shape.lastEventId });

/**
 * GET /api/events?types=…&lastEventId=…&format=… (SSE). The resume point comes from `Last-Event-ID` (the header,
 * which wins as the browser sends it on reconnect) or `lastEventId`; a bad type or id is a 400 naming the field.
 * `format=message` writes unnamed frames (for `EventSource.onmessage`), the default `event` named ones.
 */
export function eventRoutes(sse: SseServer): Router {
  const r = Router();
  r.get('/api/events', (req, res) => {
    openEventStream(sse, req, res);
  });
  return r;
}

/** Parse an SSE request (types, resume point, format — or the given format, which a route may fix) and open it. */
export function openEventStream(sse: SseServer, req: Request, res: Response, format?: SseFormat): void {
  const query = parseInput(EventsQuerySchema, req.query, 'query');
  const header = req.header('last-event-id');
  const lastEventId = header !== undefined && header !== '' ? parseInput(LastEventIdHeaderSchema, { 'Last-Event-ID': header }, 'header')['Last-Event-ID'] : query.lastEventId;
  sse.open(req, res, { types: query.types, lastEventId }, format ?? query.format);
}
