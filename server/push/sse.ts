/**
 * Server-Sent Events for `GET /api/events` (the route, http/routes/events.ts, parses the request and calls `open`):
 * a `retry:` hint, the backfill (a `replay_gap` event without id first when the resume point is out of the
 * window; the latest `resource_status` for a new client), then live events of the client's types through the
 * slow-client policy, and a comment heartbeat. Two frame formats over the same stream (SseFormat): named frames
 * (`event: <type>`), or unnamed ones for `EventSource.onmessage` whose `data` is the envelope; in that format the gap
 * notice is an unnamed frame too, `{type: "replay_gap", data: gap}` without an id.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { DROPPED_EVENT, REPLAY_GAP_EVENT, droppedNotice } from '../../shared/events.ts';
import { backfill, subscribedTypes, type Subscription } from './backfill.ts';
import { RETRY_AFTER_S, type ClientLimit } from './client-limit.ts';
import type { EventHub } from './hub.ts';
import { SSE_HEADERS, SSE_HIGH_WATER_BYTES } from './protocol.ts';
import { SlowClientPolicy } from './slow-client.ts';
import { encodeSseFrame, type SseFormat } from './sse-frame.ts';

const PING = encodeSseFrame({ comment: 'ping' });

/** How long a client cut off for being too slow has to read its notice before its connection is closed. */
export const DROP_GRACE_MS = 2000;

/** A notice without an id (a replay gap, a drop): a named frame, or in the `message` format an unnamed `{type, data}`. */
function noticeFrame(format: SseFormat, type: string, data: unknown): string {
  return encodeSseFrame(format === 'message' ? { data: JSON.stringify({ type, data }) } : { event: type, data: JSON.stringify(data) });
}

export interface SseOptions {
  heartbeatMs: number;
  retryMs: number;
  maxBufferedEvents: number;
  /** every transport's clients against --max-clients */
  limit?: ClientLimit;
  /** hands the connection to a push worker (push-workers.ts); false: served here */
  handoff?: (req: IncomingMessage, kind: 'sse') => boolean;
}

export class SseServer {
  private readonly clients = new Set<ServerResponse>();

  constructor(private readonly hub: EventHub, private readonly opts: SseOptions) {}

  get clientCount(): number {
    return this.clients.size;
  }

  /** Start the stream of one client on `res`, in the named (`event`, the default) or unnamed (`message`) format. */
  open(req: IncomingMessage, res: ServerResponse, sub: Subscription, format: SseFormat = 'event'): void {
    const limit = this.opts.limit;
    if (limit && !limit.admits()) {
      res.writeHead(503, { 'content-type': 'application/json', 'retry-after': String(RETRY_AFTER_S) });
      res.end(JSON.stringify({ error: { code: 'too_many_clients', message: limit.message } }));
      return;
    }
    if (this.opts.handoff?.(req, 'sse')) return;
    const types = subscribedTypes(sub.types);
    // an endless body, delimited by the connection's close: without chunked framing, and once the head is out each
    // event is one write to the socket itself — not through the response, whose per-write bookkeeping (and a cork
    // until the next tick) was most of the fan-out's cost per client (bench/RESULTS.md, issue 16)
    res.useChunkedEncodingByDefault = false;
    res.writeHead(200, SSE_HEADERS);
    res.flushHeaders();
    const socket = req.socket;
    socket.setNoDelay(true);
    socket.setKeepAlive(true);
    // nothing after the end: a write then is an 'error' nobody listens to (a heartbeat in a dropped client's grace)
    let lastWrite = Date.now();
    const send = (chunk: string | Buffer) => {
      if (res.writableEnded || socket.destroyed) return;
      lastWrite = Date.now();
      socket.write(chunk);
    };
    send(encodeSseFrame({ retry: this.opts.retryMs, comment: 'arbiter' }));

    const policy = new SlowClientPolicy({
      busy: () => socket.writableLength > SSE_HIGH_WATER_BYTES,
      write: (ev) => send(ev.sseFrameOf(format)),
      // told why first (a client that still reads gets it), then cut off
      disconnect: () => {
        send(noticeFrame(format, DROPPED_EVENT, droppedNotice(this.opts.maxBufferedEvents)));
        res.end();
        setTimeout(() => res.destroy(), DROP_GRACE_MS).unref();
      },
    }, this.opts.maxBufferedEvents);
    const onDrain = () => policy.drain();
    socket.on('drain', onDrain);

    // subscribe and backfill in the same tick: nothing published in between can be missed or doubled
    const unsubscribe = this.hub.subscribe((ev) => {
      if (types.has(ev.type)) policy.deliver(ev);
    });
    backfill(this.hub, types, sub.lastEventId, policy, (gap) => send(noticeFrame(format, REPLAY_GAP_EVENT, gap)));

    // a comment only on a stream that has been quiet: never silent for longer than heartbeatMs, and no write of its
    // own beside the events (at 10,000 clients each round of heartbeats was as many writes as an event)
    const half = this.opts.heartbeatMs / 2;
    const heartbeat = setInterval(() => {
      if (Date.now() - lastWrite >= half) send(PING);
    }, half);
    heartbeat.unref();
    this.clients.add(res);
    res.on('close', () => {
      socket.off('drain', onDrain);
      clearInterval(heartbeat);
      unsubscribe();
      policy.close();
      this.clients.delete(res);
    });
  }

  /** End every stream (shutdown); clients reconnect elsewhere or later with their Last-Event-ID. */
  closeAll(): void {
    for (const res of this.clients) res.end();
    this.clients.clear();
  }
}
