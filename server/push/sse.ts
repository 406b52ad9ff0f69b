/**
 * Server-Sent Events: `GET /api/events?types=…&lastEventId=…`. Resumes from `Last-Event-ID` (header, which wins
 * as the browser sends it on reconnect) or `lastEventId`; a resume point outside the window gets a `replay_gap`
 * event (without id) first. A new client without a resume point gets the latest `resource_status` at once.
 */
import type { Request, RequestHandler, Response } from 'express';
import { EVENT_TYPES, REPLAY_GAP_EVENT, type EventType } from '../../shared/events.ts';
import { EventsQuerySchema } from '../../shared/api.ts';
import { parseInput } from '../http/errors.ts';
import type { EventHub, StoredEvent } from './hub.ts';
import { Outbox } from './outbox.ts';
import { SSE_HEADERS, SSE_HIGH_WATER_BYTES, sseComment, sseEvent } from './protocol.ts';

export interface SseOptions {
  heartbeatMs: number;
  retryMs: number;
  maxBufferedEvents: number;
}

export class SseServer {
  private readonly clients = new Set<Response>();

  constructor(private readonly hub: EventHub, private readonly opts: SseOptions) {}

  get clientCount(): number {
    return this.clients.size;
  }

  handler(): RequestHandler {
    return (req, res) => {
      const query = parseInput(EventsQuerySchema, req.query, 'query');
      const header = req.header('last-event-id');
      const lastEventId = header !== undefined && header !== '' ? parseInput(EventsQuerySchema.shape.lastEventId, header, 'query') : query.lastEventId;
      const types = new Set<EventType>(query.types?.length ? query.types : EVENT_TYPES);
      this.open(req, res, types, lastEventId);
    };
  }

  private open(req: Request, res: Response, types: Set<EventType>, lastEventId: number | undefined): void {
    res.writeHead(200, SSE_HEADERS);
    req.socket.setNoDelay(true);
    req.socket.setKeepAlive(true);
    res.write(`retry: ${this.opts.retryMs}\n${sseComment('arbiter')}`);

    const outbox = new Outbox(this.opts.maxBufferedEvents);
    let congested = false;
    const send = (ev: StoredEvent) => {
      if (congested || res.writableLength > SSE_HIGH_WATER_BYTES) {
        congested = true;
        if (!outbox.add(ev)) res.destroy();
        return;
      }
      res.write(ev.sse);
    };
    const flush = () => {
      congested = false;
      for (const ev of outbox.take()) send(ev);
    };
    res.on('drain', flush);

    // Subscribe and backfill in the same tick: nothing published in between can be missed or doubled.
    const unsubscribe = this.hub.subscribe((ev) => {
      if (types.has(ev.type)) send(ev);
    });
    // the backfill is written whole (bounded by the window); only live events are coalesced for a slow client
    if (lastEventId !== undefined) {
      const { gap, events } = this.hub.replay(lastEventId, types);
      if (gap) res.write(sseEvent(REPLAY_GAP_EVENT, JSON.stringify(gap)));
      for (const ev of events) res.write(ev.sse);
    } else if (types.has('resource_status')) {
      const latest = this.hub.latest('resource_status');
      if (latest) res.write(latest.sse);
    }

    const heartbeat = setInterval(() => res.write(sseComment('ping')), this.opts.heartbeatMs);
    heartbeat.unref();
    this.clients.add(res);
    res.on('close', () => {
      clearInterval(heartbeat);
      unsubscribe();
      this.clients.delete(res);
    });
  }

  /** End every stream (shutdown); clients reconnect elsewhere or later with their Last-Event-ID. */
  closeAll(): void {
    for (const res of this.clients) res.end();
    this.clients.clear();
  }
}
