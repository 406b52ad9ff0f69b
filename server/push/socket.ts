/**
 * socket.io transport on the HTTP server's port. A client connects with `auth: {token, types?, lastEventId?}`,
 * gets its backfill (backfill.ts), then every live envelope of its types as the socket.io event named by the type.
 * Rooms per type say who gets what. A broadcast encodes the event once, as the WebSocket frame socket.io would send
 * (`42["<type>",<envelope>]`), and writes it straight to each member's socket when its engine.io connection is an
 * open WebSocket with nothing of its own waiting (socket-direct.ts) — not through engine.io's per-packet path (packet
 * objects, write buffer, flush and drain events per client), which was most of the fan-out's cost per client
 * (bench/RESULTS.md, issue 16); any other member (polling, upgrading, engine.io busy) gets it through socket.io. A
 * client that falls behind (slow-client.ts: engine.io's packets waiting, or its socket's unsent bytes past
 * WS_HIGH_WATER_BYTES) collects its events in its outbox until it drains.
 * Who may connect is decided by the injected token check: push/ knows nothing of HTTP auth.
 */
import type { IncomingMessage, Server as HttpServer } from 'node:http';
import type { Duplex } from 'node:stream';
import { Server, type Namespace, type Socket } from 'socket.io';
import {
  DROPPED_EVENT, EVENT_TYPES, REPLAY_GAP_EVENT, SocketAuthSchema, SubscribeSchema, droppedNotice,
  type ClientToServerEvents, type Envelope, type EventType, type ServerToClientEvents, type SocketAuth,
} from '../../shared/events.ts';
import { isAgentUpgrade } from '../../shared/agents.ts';
import { fieldProblems, problemsText } from '../errors.ts';
import { backfill, subscribedTypes } from './backfill.ts';
import type { ClientLimit } from './client-limit.ts';
import type { EventHub, StoredEvent } from './hub.ts';
import { SOCKET_ROOM_PREFIX, WS_HIGH_WATER_BYTES } from './protocol.ts';
import { backedUp, directSocket, ioFrame, rawSocketOf } from './socket-direct.ts';
import { SlowClientPolicy } from './slow-client.ts';

interface SocketData {
  /** set by the handshake check */
  auth?: SocketAuth;
}
type ArbiterServer = Server<ClientToServerEvents, ServerToClientEvents, Record<string, never>, SocketData>;
type ArbiterSocket = Socket<ClientToServerEvents, ServerToClientEvents, Record<string, never>, SocketData>;

export interface SocketServerOptions {
  /** whether a token (from `auth.token`, else from the handshake request) may connect from the request's address */
  checkToken(token: string | undefined, req: IncomingMessage): boolean;
  /** the token the handshake request carries (header, cookie, query), when `auth.token` is absent */
  tokenOf(req: IncomingMessage): string | undefined;
  maxBufferedEvents: number;
  /** every transport's clients against --max-clients */
  limit?: ClientLimit;
  /**
   * hands a connection that opens on WebSocket (no engine.io session yet) to a push worker (push-workers.ts), with
   * what followed the request; false: served here. The worker checks its token (socket.io's CONNECT carries it).
   */
  handoff?: (req: IncomingMessage, kind: 'io', rest: Buffer) => boolean;
}

/** An upgrade that opens a socket.io connection on WebSocket (not an upgrade of a polling session, not an agent's). */
function opensOnWebSocket(req: IncomingMessage, path: string): boolean {
  const [pathname, query = ''] = (req.url ?? '').split('?', 2) as [string, string?];
  const bare = (p: string) => p.replace(/\/+$/, '');
  if (bare(pathname) !== bare(path)) return false;
  const q = new URLSearchParams(query);
  return q.get('transport') === 'websocket' && !q.has('sid') && !isAgentUpgrade(req.url);
}

const room = (t: EventType) => `${SOCKET_ROOM_PREFIX}${t}`;

/**
 * Where an envelope goes out, as the socket.io event named by its type: a socket or a room broadcast. Both are typed
 * with ServerToClientEvents; this is their emit for any envelope, checked against that map where they are passed.
 */
interface EnvelopeEmitter {
  emit(type: EventType, env: Envelope): unknown;
}
const emit = (to: EnvelopeEmitter, ev: StoredEvent) => void to.emit(ev.type, ev.env);

export class SocketServer {
  readonly io: ArbiterServer;
  private readonly policies = new WeakMap<ArbiterSocket, SlowClientPolicy>();
  private readonly unsubscribe: () => void;

  constructor(http: HttpServer, private readonly hub: EventHub, private readonly opts: SocketServerOptions) {
    this.io = new Server(http, {
      serveClient: false,
      cors: undefined,
      // engine.io sessions are counted before any auth (a handshake alone holds one until its ping times out): none
      // past --max-clients, whoever asks
      allowRequest: (_req, callback) => {
        const max = opts.limit?.max ?? 0;
        callback(max > 0 && this.io.engine.clientsCount >= max ? 'too many sessions' : null, !(max > 0 && this.io.engine.clientsCount >= max));
      },
    });
    this.io.use((socket, next) => {
      if (opts.limit && !opts.limit.admits()) return next(new Error(opts.limit.message));
      const parsed = SocketAuthSchema.safeParse(socket.handshake.auth ?? {});
      if (!parsed.success) return next(new Error(`invalid auth: ${problemsText(fieldProblems(parsed.error))}`));
      const token = parsed.data.token ?? opts.tokenOf(socket.request);
      if (!opts.checkToken(token, socket.request)) return next(new Error('unauthorized: missing or wrong token'));
      socket.data.auth = parsed.data;
      next();
    });
    this.io.on('connection', (socket) => this.onConnection(socket));
    if (opts.handoff) this.handOffUpgrades(http, opts.handoff);
    this.unsubscribe = hub.subscribe((ev) => this.broadcast(ev));
  }

  /**
   * socket.io's own 'upgrade' listener (engine.io's) sees only what is not handed to a push worker: it is taken off
   * and called from here. A connection past --max-clients is not handed: engine.io here refuses it as usual.
   */
  private handOffUpgrades(http: HttpServer, handoff: NonNullable<SocketServerOptions['handoff']>): void {
    const own = http.listeners('upgrade') as ((...args: unknown[]) => void)[];
    for (const l of own) http.off('upgrade', l);
    const path = this.io.path();
    http.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
      if (opensOnWebSocket(req, path) && (this.opts.limit?.admits() ?? true) && handoff(req, 'io', head)) return;
      for (const l of own) l.call(http, req, socket, head);
    });
  }

  /** Another namespace on the same server (the agents'): the clients' auth and events do not apply there. */
  namespace(name: string): Namespace {
    return (this.io as unknown as Server).of(name);
  }

  get clientCount(): number {
    return this.io.of('/').sockets.size;
  }

  private onConnection(socket: ArbiterSocket): void {
    const { types, lastEventId } = socket.data.auth ?? {};
    const policy = new SlowClientPolicy({
      busy: () => backedUp(socket.conn, WS_HIGH_WATER_BYTES),
      write: (ev) => emit(socket, ev),
      disconnect: () => {
        socket.emit(DROPPED_EVENT, droppedNotice(this.opts.maxBufferedEvents));
        socket.disconnect(true);
      },
    }, this.opts.maxBufferedEvents);
    this.policies.set(socket, policy);
    const drain = () => policy.drain();
    socket.conn.on('drain', drain);
    // the socket under the WebSocket transport drains the direct writes (now, or once upgraded from polling)
    const watchRaw = () => rawSocketOf(socket.conn)?.on('drain', drain);
    watchRaw();
    socket.conn.on('upgrade', watchRaw);

    // backfill and join in the same tick: nothing can fall between them
    const subscribed = subscribedTypes(types);
    backfill(this.hub, subscribed, lastEventId, policy, (gap) => void socket.emit(REPLAY_GAP_EVENT, gap));
    socket.on('disconnect', () => {
      policy.close();
      rawSocketOf(socket.conn)?.off('drain', drain);
    });
    void socket.join([...subscribed].map(room));

    socket.on('subscribe', (msg, ack) => {
      // what a client sends as its ack may be anything: only a function is called back
      const reply: (r: Parameters<NonNullable<typeof ack>>[0]) => void = typeof ack === 'function' ? ack : () => {};
      const parsed = SubscribeSchema.safeParse(msg);
      if (!parsed.success) {
        reply({ ok: false, error: problemsText(fieldProblems(parsed.error)) });
        return;
      }
      for (const t of EVENT_TYPES) void socket.leave(room(t));
      void socket.join(parsed.data.types.map(room));
      reply({ ok: true, types: [...new Set(parsed.data.types)] });
    });
  }

  private broadcast(ev: StoredEvent): void {
    const members = this.io.of('/').adapter.rooms.get(room(ev.type));
    if (!members || members.size === 0) return;
    const sockets = this.io.of('/').sockets;
    let frame: Buffer | undefined;
    for (const id of members) {
      const s = sockets.get(id);
      // a client that is behind keeps the event in its outbox
      if (!s || this.policies.get(s)?.hold(ev)) continue;
      const raw = directSocket(s.conn);
      if (raw) raw.write((frame ??= ioFrame(ev)));
      else emit(s, ev);
    }
  }

  async close(): Promise<void> {
    this.unsubscribe();
    this.io.disconnectSockets(true);
    await new Promise<void>((r) => this.io.close(() => r()));
  }
}
