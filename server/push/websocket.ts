/**
 * Plain WebSocket transport (`ws`) on the HTTP server's port, for clients that cannot speak socket.io: on
 * WEBSOCKET_PATHS (shared/websocket.ts) each event is one JSON text message, the hub's envelope; a client may send
 * `{"subscribe": [types]}` and `{"resume": lastId}` (websocket-client.ts). The same push core as SSE and socket.io:
 * the backfill on connect (the latest status of every node, or the events after `?lastEventId=`), the hub's replay
 * for resumes, the slow-client policy for live events.
 *
 * Upgrades: one 'upgrade' listener that takes only these paths; socket.io's own listener takes /socket.io/ and
 * ends, after its timeout, any upgrade nobody answered (engine.io's destroyUpgrade) — ours are answered at once
 * (101, or 400/401), so it leaves them be. Heartbeat: a ping every `pingMs`; a client that has not answered one
 * ping by the next is dropped; the clients are pinged a slice at a time over the interval (ping-rounds.ts). Who may connect is decided by the injected token check: push/ knows nothing of HTTP auth.
 */
import { STATUS_CODES, type IncomingMessage, type Server as HttpServer } from 'node:http';
import type { Duplex } from 'node:stream';
import { WebSocketServer } from 'ws';
import { EventsQuerySchema } from '../../shared/api.ts';
import { WEBSOCKET_PATHS, WS_CLOSE } from '../../shared/websocket.ts';
import { fieldProblems, problemsText } from '../errors.ts';
import type { Logger } from '../log.ts';
import type { Subscription } from './backfill.ts';
import { RETRY_AFTER_S, type ClientLimit } from './client-limit.ts';
import type { EventHub } from './hub.ts';
import { PingRounds, sliceCount } from './ping-rounds.ts';
import { WS_MAX_CLIENT_MESSAGE_BYTES, WsClient } from './websocket-client.ts';

export interface WebSocketPushOptions {
  /** whether the token an upgrade request carries may connect */
  checkToken(token: string | undefined, req: IncomingMessage): boolean;
  /** the token of an upgrade request (header, cookie, query) */
  tokenOf(req: IncomingMessage): string | undefined;
  maxBufferedEvents: number;
  /** ping interval; a client silent for a whole interval after a ping is dropped */
  pingMs: number;
  paths?: readonly string[];
  /** every transport's clients against --max-clients */
  limit?: ClientLimit;
  /** hands the connection to a push worker (push-workers.ts) with what followed the request; false: served here */
  handoff?: (req: IncomingMessage, kind: 'ws', rest: Buffer) => boolean;
  /** where a client message whose handling threw is told (the connection is closed with 1011) */
  log: Pick<Logger, 'error'>;
}

/** Answer an upgrade request with an HTTP error and close the connection (the body: the API's error shape). */
function refuse(socket: Duplex, status: number, code: string, message: string, headers = ''): void {
  const body = JSON.stringify({ error: { code, message } });
  socket.end(
    `HTTP/1.1 ${status} ${STATUS_CODES[status] ?? ''}\r\nConnection: close\r\nContent-Type: application/json\r\n${headers}`
    + `Content-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`,
  );
}

export class WebSocketPush {
  private readonly wss = new WebSocketServer({ noServer: true, maxPayload: WS_MAX_CLIENT_MESSAGE_BYTES });
  private readonly clients = new Set<WsClient>();
  private readonly rounds: PingRounds<WsClient>;
  private readonly paths: ReadonlySet<string>;
  private readonly unsubscribe: () => void;
  private readonly heartbeat: NodeJS.Timeout;
  private closed = false;

  constructor(private readonly http: HttpServer, private readonly hub: EventHub, private readonly opts: WebSocketPushOptions) {
    this.paths = new Set(opts.paths ?? WEBSOCKET_PATHS);
    http.on('upgrade', this.onUpgrade);
    this.unsubscribe = hub.subscribe((ev) => {
      for (const c of this.clients) c.deliver(ev);
    });
    this.rounds = new PingRounds(sliceCount(opts.pingMs));
    this.heartbeat = setInterval(() => this.ping(), opts.pingMs / this.rounds.count);
    this.heartbeat.unref();
  }

  get clientCount(): number {
    return this.clients.size;
  }

  private readonly onUpgrade = (req: IncomingMessage, socket: Duplex, head: Buffer): void => {
    let url: URL;
    try {
      url = new URL(req.url ?? '/', 'http://x');
    } catch {
      return; // not ours: another listener's, or ended by socket.io's
    }
    if (!this.paths.has(url.pathname)) return;
    socket.on('error', () => socket.destroy());
    try {
      this.upgrade(req, socket, head, url);
    } catch {
      // e.g. a header no parser expected: the connection is refused, the server goes on
      if (!socket.destroyed) refuse(socket, 400, 'bad_request', 'the upgrade request could not be read');
    }
  };

  private upgrade(req: IncomingMessage, socket: Duplex, head: Buffer, url: URL): void {
    if (this.closed) return refuse(socket, 503, 'unavailable', 'the server is shutting down');
    const limit = this.opts.limit;
    if (limit && !limit.admits()) return refuse(socket, 503, 'too_many_clients', limit.message, `Retry-After: ${RETRY_AFTER_S}\r\n`);
    if (!this.opts.checkToken(this.opts.tokenOf(req), req)) {
      return refuse(socket, 401, 'unauthorized', 'missing or wrong token: send "Authorization: Bearer <token>", the arbiter_token cookie, or ?access_token=<token>');
    }
    const query = EventsQuerySchema.safeParse({ types: url.searchParams.get('types') ?? undefined, lastEventId: url.searchParams.get('lastEventId') ?? undefined });
    if (!query.success) return refuse(socket, 400, 'bad_request', `query: ${problemsText(fieldProblems(query.error))}`);
    if (this.opts.handoff?.(req, 'ws', head)) return;
    const sub: Subscription = { types: query.data.types, lastEventId: query.data.lastEventId };
    this.wss.handleUpgrade(req, socket, head, (ws) => {
      if (this.closed) return ws.close(WS_CLOSE.goingAway, 'server shutting down');
      // constructed (its backfill sent) and added in the same tick: no live event falls between
      const client = new WsClient(ws, this.hub, sub, this.opts.maxBufferedEvents, (c) => this.remove(c),
        (err) => this.opts.log.error({ err, path: url.pathname }, 'a WebSocket message failed; its connection is closed'));
      this.clients.add(client);
      this.rounds.add(client);
      ws.on('close', () => this.remove(client));
      ws.on('error', () => ws.terminate());
    });
  }

  private remove(c: WsClient): void {
    this.clients.delete(c);
    this.rounds.delete(c);
  }

  /** One slice's turn: each of its clients answered the last ping (pinged again) or is cut. */
  private ping(): void {
    for (const c of [...this.rounds.next()]) {
      if (!c.alive) {
        this.remove(c);
        c.ws.terminate();
        continue;
      }
      c.alive = false;
      c.ws.ping();
    }
  }

  /**
   * Close every connection (1001, going away: clients reconnect elsewhere or later with `?lastEventId=`); one that
   * does not answer within `graceMs` (a client not reading, one dropped as too slow) is cut.
   */
  async close(graceMs = 1000): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    clearInterval(this.heartbeat);
    this.unsubscribe();
    this.http.off('upgrade', this.onUpgrade);
    for (const c of this.clients) this.rounds.delete(c);
    this.clients.clear();
    const open = [...this.wss.clients];
    const ended = open.map((ws) => new Promise<void>((r) => {
      ws.once('close', () => r());
      ws.close(WS_CLOSE.goingAway, 'server shutting down');
    }));
    const timer = setTimeout(() => {
      for (const ws of open) ws.terminate();
    }, graceMs);
    await Promise.all(ended);
    clearTimeout(timer);
    await new Promise<void>((r) => this.wss.close(() => r()));
  }
}
