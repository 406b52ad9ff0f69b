/**
 * socket.io transport on the HTTP server's port. A client connects with `auth: {token, types?, lastEventId?}`,
 * gets the events after `lastEventId` (or, without one, the latest `resource_status`), then every live envelope
 * of its types as the socket.io event named by the type. Rooms per type keep broadcasts encode-once.
 * A client whose engine buffer has not drained is "congested": it leaves the broadcast and collects events in its
 * outbox (latest status wins), flushed in id order on drain; past the bound it is disconnected.
 */
import type { Server as HttpServer } from 'node:http';
import { Server, type Socket } from 'socket.io';
import {
  EVENT_TYPES, REPLAY_GAP_EVENT, SocketAuthSchema, SubscribeSchema,
  type ClientToServerEvents, type EventType, type ServerToClientEvents, type SocketAuth,
} from '../../shared/events.ts';
import { Auth } from '../http/auth.ts';
import type { EventHub, StoredEvent } from './hub.ts';
import { Outbox } from './outbox.ts';
import { CONGESTED_ROOM, SOCKET_ROOM_PREFIX } from './protocol.ts';

type ArbiterSocket = Socket<ClientToServerEvents, ServerToClientEvents>;

interface SocketState {
  types: Set<EventType>;
  outbox: Outbox;
}

const room = (t: EventType) => `${SOCKET_ROOM_PREFIX}${t}`;

/** Packets engine.io holds because the transport has not finished the previous write. */
function pendingPackets(socket: ArbiterSocket): number {
  return (socket.conn as unknown as { writeBuffer: unknown[] }).writeBuffer.length;
}

export class SocketServer {
  readonly io: Server<ClientToServerEvents, ServerToClientEvents>;
  private readonly state = new WeakMap<ArbiterSocket, SocketState>();
  private readonly unsubscribe: () => void;

  constructor(http: HttpServer, private readonly hub: EventHub, auth: Auth, private readonly maxBufferedEvents: number) {
    this.io = new Server<ClientToServerEvents, ServerToClientEvents>(http, { serveClient: false, cors: undefined });
    this.io.use((socket, next) => {
      const parsed = SocketAuthSchema.safeParse(socket.handshake.auth ?? {});
      if (!parsed.success) {
        return next(new Error(`invalid auth: ${parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`));
      }
      const token = parsed.data.token ?? Auth.tokenOf(socket.request);
      if (!auth.check(token)) return next(new Error('unauthorized: missing or wrong token'));
      socket.data.auth = parsed.data;
      next();
    });
    this.io.on('connection', (socket) => this.onConnection(socket));
    this.unsubscribe = hub.subscribe((ev) => this.broadcast(ev));
  }

  get clientCount(): number {
    return this.io.of('/').sockets.size;
  }

  private onConnection(socket: ArbiterSocket): void {
    const auth = socket.data.auth as SocketAuth; // parsed by the middleware
    const types = new Set<EventType>(auth.types?.length ? auth.types : EVENT_TYPES);
    const st: SocketState = { types, outbox: new Outbox(this.maxBufferedEvents) };
    this.state.set(socket, st);
    socket.conn.on('drain', () => this.flush(socket));

    // backfill and join in the same tick: nothing can fall between them. The backfill is sent whole (it is
    // bounded by the window); only live events are coalesced for a client that falls behind.
    if (auth.lastEventId !== undefined) {
      const { gap, events } = this.hub.replay(auth.lastEventId, types);
      if (gap) socket.emit(REPLAY_GAP_EVENT, gap);
      for (const ev of events) socket.emit(ev.type, ev.env as never);
    } else if (types.has('resource_status')) {
      const latest = this.hub.latest('resource_status');
      if (latest) socket.emit(latest.type, latest.env as never);
    }
    void socket.join(types.size ? [...types].map(room) : []);

    socket.on('subscribe', (msg, ack) => {
      const parsed = SubscribeSchema.safeParse(msg);
      if (!parsed.success) {
        ack?.({ ok: false, error: parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ') });
        return;
      }
      for (const t of EVENT_TYPES) void socket.leave(room(t));
      st.types = new Set(parsed.data.types);
      void socket.join([...st.types].map(room));
      ack?.({ ok: true, types: [...st.types] });
    });
  }

  private isCongested(socket: ArbiterSocket): boolean {
    return socket.rooms.has(CONGESTED_ROOM);
  }

  private sendTo(socket: ArbiterSocket, ev: StoredEvent): void {
    const st = this.state.get(socket);
    if (!st) return;
    if (this.isCongested(socket) || pendingPackets(socket) > 0) {
      void socket.join(CONGESTED_ROOM);
      if (!st.outbox.add(ev)) socket.disconnect(true);
      return;
    }
    socket.emit(ev.type, ev.env as never);
  }

  private broadcast(ev: StoredEvent): void {
    const members = this.io.of('/').adapter.rooms.get(room(ev.type));
    if (!members || members.size === 0) return;
    const sockets = this.io.of('/').sockets;
    for (const id of members) {
      const s = sockets.get(id);
      if (!s) continue;
      // a busy engine buffer means the client is behind: route its events through its outbox
      if (this.isCongested(s) || pendingPackets(s) > 0) this.sendTo(s, ev);
    }
    this.io.to(room(ev.type)).except(CONGESTED_ROOM).emit(ev.type, ev.env as never);
  }

  private flush(socket: ArbiterSocket): void {
    const st = this.state.get(socket);
    if (!st || !this.isCongested(socket)) return;
    void socket.leave(CONGESTED_ROOM);
    for (const ev of st.outbox.take()) socket.emit(ev.type, ev.env as never);
  }

  async close(): Promise<void> {
    this.unsubscribe();
    this.io.disconnectSockets(true);
    await new Promise<void>((r) => this.io.close(() => r()));
  }
}
