/**
 * Hub replicas (`serve --database postgres://…`): every replica opens the shared store and asks for the leader's
 * lock (runtime/replicas/leader.ts). The one that gets it runs the whole app — the only scheduler that writes — and
 * records the URL the others forward to. Each other replica is a follower: it answers the scheduler's reads itself,
 * from the store the leader writes (http/routes/follower-reads.ts), and forwards the rest to the leader
 * (runtime/replicas/forward.ts); with `--redis` it serves push itself, from the
 * Redis stream the leader writes (runtime/replicas/event-stream.ts: the same ids on every replica; SSE, socket.io and plain WebSocket), without it the
 * push streams are forwarded too. Agents may connect to any replica: a follower pipes their WebSocket to the leader,
 * and when the leader dies they reconnect and reach the new one. A follower asks for the lock every --leader-poll-ms; when the leader dies, its
 * session ends, PostgreSQL frees the lock, and the first follower to ask becomes the leader: it closes its follower
 * server and starts the app on the same port from the database — the queue, the allocations, the conflicts, the
 * event ids — so that nothing acknowledged is lost. Its clients reconnect and resume by their last event id.
 */
import { createServer, type IncomingMessage, type Server as HttpServer } from 'node:http';
import type { Duplex } from 'node:stream';
import express from 'express';
import { listen, rateLimit, startApp, type AppDeps } from './app.ts';
import { pushTransports } from './push-transports.ts';
import { systemClock, type Clock } from './clock.ts';
import type { Config } from './config.ts';
import { Auth, loadOrCreateToken } from './http/auth.ts';
import { errorBoundary } from './http/errors.ts';
import { eventRoutes } from './http/routes/events.ts';
import { followerReads, followerStatus } from './http/routes/follower-reads.ts';
import { createLogger, type Logger } from './log.ts';
import { EventHub } from './push/hub.ts';
import type { SseServer } from './push/sse.ts';
import type { SocketServer } from './push/socket.ts';
import type { WebSocketPush } from './push/websocket.ts';
import { EventStreamReader, streamKey } from './runtime/replicas/event-stream.ts';
import { Forwarder } from './runtime/replicas/forward.ts';
import { currentLeader, recordLeader, storeId, tryLead } from './runtime/replicas/leader.ts';
import { MemoryIdStore } from './store/event-ids.ts';
import { EventStore } from './store/event-store.ts';
import { TokenStore } from './store/token-store.ts';
import { openPostgres } from './store/postgres/pg-db.ts';
import type { Db } from './store/sql.ts';
import { isAgentUpgrade } from '../shared/agents.ts';
import type { ResourceStatus } from '../shared/resources.ts';

export type Role = 'leader' | 'follower';

/** What `serve` runs with --database: the app when leading, the follower's server otherwise. */
export interface Replica {
  readonly url: string;
  readonly token: string;
  role(): Role;
  /** resolves when this replica has become the leader (at once if it started as one) */
  readonly leading: Promise<void>;
  close(): Promise<void>;
}

interface Running {
  url: string;
  close(): Promise<void>;
}

export async function serveReplica(config: Config, deps: AppDeps = {}): Promise<Replica> {
  if (!config.database) throw new Error('serveReplica needs --database');
  const log = deps.log ?? createLogger(config.logLevel);
  const clock = deps.clock ?? systemClock;
  const db = openPostgres({ url: config.database });
  const lead = async (port: number): Promise<Running> => {
    const app = await startApp({ ...config, port }, { ...deps, log, clock, db });
    const record = recordLeader(db, config.replicas.advertiseUrl ?? app.url, clock.now(), app.board.snapshot().node);
    log.info({ url: record.url, term: record.term }, 'leading the hub replicas');
    return app;
  };
  const token = loadOrCreateToken(config.dataDir, config.token);
  if (tryLead(db)) {
    const app = await lead(config.port);
    return { url: app.url, token, role: () => 'leader', leading: Promise.resolve(), close: () => app.close() };
  }

  const follower = await startFollower(config, db, token, log, clock);
  let current: Running = follower;
  let role: Role = 'follower';
  let closing = false;
  const leading = follower.promoted.then(async () => {
    if (closing) return;
    const port = Number(new URL(follower.url).port);
    await follower.close();
    current = await lead(port);
    role = 'leader';
  });
  // a replica that holds the lock but cannot serve must let it go: it ends, and another replica takes over
  leading.catch((err: unknown) => {
    log.fatal({ err }, 'taking over as leader failed; exiting so that another replica takes over');
    db.close();
    process.exit(1);
  });
  return {
    url: follower.url,
    token,
    role: () => role,
    leading,
    close: async () => {
      closing = true;
      await current.close();
      if (role === 'follower') db.close();
    },
  };
}

/**
 * Agents report to the leader: their WebSocket upgrades (marked by AGENT_QUERY) are piped to it, every other upgrade
 * goes to this follower's own socket.io server. Node hands an upgrade to every 'upgrade' listener, so socket.io's
 * listener is taken off and called from here for what is not an agent's.
 */
function routeAgentsToLeader(http: HttpServer, forwarder: Forwarder): void {
  const own = http.listeners('upgrade') as ((...args: unknown[]) => void)[];
  http.removeAllListeners('upgrade');
  http.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    if (isAgentUpgrade(req.url)) forwarder.upgrade(req, socket, head);
    else for (const l of own) l.call(http, req, socket, head);
  });
}

/** The newest status snapshot of `node` this follower's hub holds (relayed from the leader), or null. */
function leaderSnapshot(hub: EventHub, node: string | undefined): ResourceStatus | null {
  if (node === undefined) return null;
  const ev = hub.latestOf(new Set(['resource_status'])).find((e) => (e.env.data as ResourceStatus).node === node);
  return ev ? (ev.env.data as ResourceStatus) : null;
}

interface Follower extends Running {
  /** resolves once this replica holds the leader's lock */
  promoted: Promise<void>;
}

async function startFollower(config: Config, db: Db, token: string, log: Logger, clock: Clock): Promise<Follower> {
  const auth = new Auth(token, config.auth, config.adminToken, { now: () => clock.now(), tokens: new TokenStore(db) });
  let record = currentLeader(db);
  const forwarder = new Forwarder({
    leader: () => record?.url ?? null,
    unreachable: () => void (record = currentLeader(db)),
  });
  const app = express();
  app.disable('x-powered-by');
  app.set('query parser', 'simple');
  const http = createServer(app);
  // the health checks go to the leader uncounted; every other request is counted here, by its client's token and address
  app.get(['/api/health', '/health'], forwarder.http);
  app.use(rateLimit(config, clock));
  let push: { reader: EventStreamReader; sse: SseServer; sockets: SocketServer; websockets: WebSocketPush; hub: EventHub } | undefined;
  if (config.redis) {
    // its own push: the leader's events from the Redis stream, older ones from the database's archive
    const hub = new EventHub({
      clock, replayCount: config.push.replayCount, replayMaxAgeMs: config.push.replayMaxAgeMs, ids: new MemoryIdStore(), archive: new EventStore(db, { clock }),
    });
    const reader = new EventStreamReader({ url: config.redis, key: streamKey(storeId(db)), log: log.child({ part: 'redis' }), backlog: config.push.replayCount });
    await reader.start(hub);
    const { sse, sockets, websockets } = pushTransports(http, hub, auth, config.push, log);
    push = { reader, sse, sockets, websockets, hub };
    routeAgentsToLeader(http, forwarder);
    app.use('/api/events', auth.middleware());
    app.use(eventRoutes(sse));
    // the leader's own status: its newest snapshot in the stream (forwarded until one came)
    app.use(followerStatus({ auth, forward: forwarder.http, snapshot: () => leaderSnapshot(hub, record?.node) }));
  } else {
    http.on('upgrade', forwarder.upgrade);
  }
  app.use(followerReads({ db, auth, now: () => clock.now(), log, forward: forwarder.http }));
  app.use(forwarder.http);
  app.use(errorBoundary(log));
  const url = await listen(http, config);
  log.info({ url, leader: record?.url }, 'following the leader replica');

  let timer: NodeJS.Timeout | undefined;
  const promoted = new Promise<void>((resolve) => {
    timer = setInterval(() => {
      try {
        if (tryLead(db)) {
          clearInterval(timer);
          log.warn({ previous: record?.url }, 'the leader is gone: taking over');
          resolve();
        } else {
          record = currentLeader(db) ?? record;
        }
      } catch (err) {
        log.error({ err }, 'asking for the leader lock failed');
      }
    }, config.replicas.leaderPollMs);
  });
  return {
    url,
    promoted,
    close: async () => {
      clearInterval(timer);
      forwarder.close();
      // every connection ends now (requests in flight, kept-alive ones, push streams): closing the server waits for them
      push?.sse.closeAll();
      http.closeAllConnections();
      const closed = new Promise<void>((r) => http.close(() => r()));
      if (push) {
        await push.websockets.close();
        await push.sockets.close();
        await push.reader.close();
        push.hub.close();
      }
      http.closeAllConnections();
      await closed;
    },
  };
}
