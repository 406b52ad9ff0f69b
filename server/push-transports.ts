/**
 * The push transports of a hub on an HTTP server — SSE, socket.io and the plain WebSocket, their clients counted
 * together against --max-clients — for the server (app.ts), a hub replica (replica.ts) and a push worker
 * (push-worker.ts), which imports this module and not the whole app.
 */
import type { IncomingMessage, Server as HttpServer } from 'node:http';
import type { Config } from './config.ts';
import { Auth } from './http/auth.ts';
import type { Logger } from './log.ts';
import { ClientLimit } from './push/client-limit.ts';
import type { EventHub } from './push/hub.ts';
import { SocketServer } from './push/socket.ts';
import { SseServer } from './push/sse.ts';
import { WebSocketPush } from './push/websocket.ts';
import type { HandedKind, PushWorkers } from './push-workers.ts';

/**
 * The three push transports of a hub, its clients counted together against --max-clients; with `workers` (the
 * push workers, push-workers.ts) each transport hands its connections to them and their clients count too.
 */
export function pushTransports(http: HttpServer, hub: EventHub, auth: Auth, push: Config['push'], log: Logger, workers?: PushWorkers) {
  const limit = new ClientLimit(push.maxClients);
  // a locked-out address is not handed (socket.io's token is checked at the worker): the server refuses it here
  const handoff = workers ? {
    handoff: (req: IncomingMessage, kind: HandedKind, rest?: Buffer) => auth.lockout.lockedFor(req.socket.remoteAddress) === 0 && workers.adopt(req, kind, rest),
  } : {};
  const clients = { checkToken: (t: string | undefined, req: IncomingMessage) => auth.verify(t, req.socket.remoteAddress) === 'ok', tokenOf: (req: IncomingMessage) => Auth.tokenOf(req), maxBufferedEvents: push.maxBufferedEvents, limit };
  const sse = new SseServer(hub, { ...push, limit, ...handoff });
  const sockets = new SocketServer(http, hub, { ...clients, ...handoff });
  const websockets = new WebSocketPush(http, hub, { ...clients, ...handoff, pingMs: push.wsPingMs, log: log.child({ part: 'push' }) });
  limit.count(() => sse.clientCount + sockets.clientCount + websockets.clientCount + (workers?.clientCount ?? 0));
  return { sse, sockets, websockets, limit, workers };
}
