/**
 * A push worker's process (push-workers.ts starts it): an EventHub relaying the server's events, the three push
 * transports on an HTTP server that listens nowhere, and the connections the server hands over, each read again from
 * its request's head. The token check is the server's own (the same token, named tokens from the same database);
 * the replay window is the server's (its backlog at start, then every event in id order), older events come from
 * the database's archive. It ends when the server tells it to, or when the server is gone; the terminal's Ctrl-C is
 * the server's to handle.
 */
import { createServer } from 'node:http';
import { Socket, type SocketConstructorOpts } from 'node:net';
import express from 'express';
import { pushTransports } from './push-transports.ts';
import { systemClock } from './clock.ts';
import { Auth } from './http/auth.ts';
import { errorBoundary } from './http/errors.ts';
import { eventRoutes } from './http/routes/events.ts';
import { RS_BASE, rsPushSseRoute } from './http/routes/resource-scheduler.ts';
import { createLogger, type Logger } from './log.ts';
import { openDatabase } from './store/db.ts';
import { MemoryIdStore } from './store/event-ids.ts';
import { EventStore } from './store/event-store.ts';
import { openPostgres } from './store/postgres/pg-db.ts';
import { TokenStore } from './store/token-store.ts';
import type { Envelope } from './../shared/events.ts';
import { EventHub } from './push/hub.ts';
import type { FromWorker, ToWorker } from './push-workers.ts';

type Started = ReturnType<typeof start>;
let running: Started | undefined;
let log: Logger | undefined;

const tell = (m: FromWorker) => process.send?.(m);

function start(init: Extract<ToWorker, { t: 'init' }>) {
  const { config } = init;
  const clock = systemClock;
  log = createLogger(config.logLevel).child({ part: 'push-worker', pid: process.pid });
  const db = config.database ? openPostgres({ url: config.database }) : openDatabase({ dataDir: config.dataDir });
  const hub = new EventHub({
    clock, replayCount: config.push.replayCount, replayMaxAgeMs: config.push.replayMaxAgeMs, ids: new MemoryIdStore(), archive: new EventStore(db, { clock }),
  });
  for (const j of init.backlog) hub.relay(JSON.parse(j) as Envelope);
  // a wrong token here (socket.io's, checked at its CONNECT) counts at the server too, whose lockout keeps a locked
  // address from being handed to any worker
  const auth = new Auth(init.token, config.auth, config.adminToken, {
    now: () => clock.now(), tokens: new TokenStore(db), onFailed: (address) => tell({ t: 'wrong', address }),
  });
  const app = express();
  app.disable('x-powered-by');
  app.set('query parser', 'simple');
  const http = createServer(app);
  // the server admitted each connection against --max-clients; none is handed on from here
  const { sse, sockets, websockets } = pushTransports(http, hub, auth, { ...config.push, maxClients: 0, workers: 0 }, log);
  app.use(['/api/events', `${RS_BASE}/push/sse`], auth.middleware());
  app.use(eventRoutes(sse));
  app.use(rsPushSseRoute(sse));
  app.use(errorBoundary(log));
  return { hub, http, sse, sockets, websockets, db };
}

async function shutdown(code: number): Promise<void> {
  const r = running;
  running = undefined;
  if (r) {
    r.sse.closeAll();
    await r.websockets.close();
    await r.sockets.close();
    r.http.closeAllConnections();
    r.hub.close();
    r.db.close();
  }
  process.exit(code);
}

process.on('message', (msg: ToWorker, handle?: unknown) => {
  switch (msg.t) {
    case 'init':
      running = start(msg);
      tell({ t: 'ready' });
      break;
    case 'e':
      running?.hub.relay(JSON.parse(msg.j) as Envelope);
      break;
    case 'conn': {
      if (!handle) return;
      const { kind } = msg;
      // a socket over the received descriptor, as node's own child_process makes one for a sent net.Socket
      const socket = new Socket({ handle, readable: true, writable: true } as SocketConstructorOpts);
      tell({ t: 'took', seq: msg.seq });
      socket.once('close', () => tell({ t: 'gone', kind }));
      if (!running) return void socket.destroy();
      // the request again, as if it had just been read from the connection
      socket.unshift(Buffer.from(msg.head, 'base64'));
      running.http.emit('connection', socket);
      break;
    }
    case 'close':
      void shutdown(0);
      break;
  }
});
process.on('disconnect', () => void shutdown(0));
for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.on(sig, () => {});
// one connection's failure is not every client's
process.on('uncaughtException', (err) => log?.error({ err }, 'push worker: an exception nothing caught (the worker goes on)'));
