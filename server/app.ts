/** Composition root: builds every part from the config, starts them in order and stops them in reverse. */
import { createServer, type IncomingMessage, type Server as HttpServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import { join } from 'node:path';
import express from 'express';
import type { Config } from './config.ts';
import { systemClock, type Clock } from './clock.ts';
import { createLogger, type Logger } from './log.ts';
import { History } from './monitor/history.ts';
import type { MonitorLoop } from './monitor/loop.ts';
import { nodeMonitor, type NodeSources } from './runtime/node-monitor.ts';
import { StatusBoard, type NodeSamples } from './monitor/status.ts';
import { EventHub } from './push/hub.ts';
import { noHandedClients, PushWorkers } from './push-workers.ts';
import { pushTransports } from './push-transports.ts';
import type { SocketServer } from './push/socket.ts';
import { Auth, loadOrCreateToken } from './http/auth.ts';
import { capConnections, connectionCap } from './http/connection-cap.ts';
import { RateLimit } from './http/rate-limit.ts';
import { errorBoundary, notFound } from './http/errors.ts';
import { eventRoutes } from './http/routes/events.ts';
import { healthRoutes } from './http/routes/health.ts';
import { statusRoutes } from './http/routes/status.ts';
import { strategyRoutes } from './http/routes/strategy.ts';
import { resourceSchedulerRoutes } from './http/routes/resource-scheduler.ts';
import { sessionRoutes } from './http/routes/session.ts';
import { tokenRoutes } from './http/routes/tokens.ts';
import { doctorRoutes } from './http/routes/doctor.ts';
import { diagnose } from './runtime/doctor.ts';
import { openApiRoutes } from './http/routes/openapi.ts';
import { docsRoutes } from './http/routes/docs.ts';
import { metricsRoutes } from './http/routes/metrics.ts';
import { StrategyService } from './runtime/strategy-service.ts';
import { historyRoutes } from './http/routes/history.ts';
import { dashboardPage, staticRoutes } from './http/static.ts';
import { Metrics, bindMetrics } from './metrics.ts';
import { openDatabase } from './store/db.ts';
import { openPostgres } from './store/postgres/pg-db.ts';
import type { Db } from './store/sql.ts';
import { EventStreamWriter, streamKey } from './runtime/replicas/event-stream.ts';
import { storeId } from './runtime/replicas/leader.ts';
import { SchedulerStore } from './store/scheduler-store.ts';
import { DbIdStore, EventStore } from './store/event-store.ts';
import { FileIdStore } from './store/event-ids.ts';
import { HistoryStore } from './store/history-store.ts';
import { SchedulerEngine } from './scheduler/engine.ts';
import { SchedulerService, type SchedulerServiceOptions } from './runtime/scheduler-service.ts';
import { schedulerRoutes } from './http/routes/scheduler.ts';
import { HintService } from './runtime/hint-service.ts';
import { hintRoutes } from './http/routes/hints.ts';
import { DISPATCH_PATHS, dispatchErrors, dispatchHealth, dispatchRoutes } from './http/routes/dispatch.ts';
import { DispatchService } from './runtime/dispatch-service.ts';
import type { Backend } from './runtime/workers/backend.ts';
import { DockerBackend } from './runtime/workers/docker.ts';
import { LocalBackend } from './runtime/workers/local.ts';
import { freePort } from './runtime/workers/ports.ts';
import { WorkerService } from './runtime/workers/service.ts';
import { engineErrors, workerRoutes } from './http/routes/workers.ts';
import { WorkerStore } from './store/worker-store.ts';
import { WorkerBook } from './workloads/workers/book.ts';
import { WorkflowBook } from './workloads/workflows/book.ts';
import { WorkflowService } from './runtime/workflows/service.ts';
import { WORKFLOW_PATHS, workflowErrors, workflowRoutes } from './http/routes/workflows.ts';
import { WorkflowStore } from './store/workflow-store.ts';
import { TokenStore } from './store/token-store.ts';
import { AgentGateway } from './runtime/agents/gateway.ts';
import { NodeRegistry } from './runtime/agents/registry.ts';
import { nodesView } from './runtime/agents/nodes-view.ts';
import { AgentWorkerChannelImpl } from './runtime/agents/worker-channel.ts';
import { RemoteBackends } from './runtime/workers/remote.ts';
import { nodeRoutes } from './http/routes/nodes.ts';
import type { ResourceStatus } from '../shared/resources.ts';
import type { WorkerBackend as WorkerBackendKind } from '../shared/workers.ts';
import { DispatchStore } from './store/dispatch-store.ts';
import { Dispatcher } from './workloads/dispatch/dispatcher.ts';
import { Predictor } from './workloads/dispatch/predictor.ts';
import type { PolicyFactory } from './workloads/dispatch/policies.ts';
import { loadPolicyModule } from './runtime/policy-module.ts';
import { reloadConfig, type ReloadOutcome } from './runtime/reload.ts';

export interface AppDeps extends NodeSources {
  clock?: Clock;
  log?: Logger;
  /** where workers run (tests); default: local processes, and containers when the Docker source is on */
  workerBackends?: Partial<Record<WorkerBackendKind, Backend>>;
  /** the store, opened already (a replica's PostgreSQL connection, which holds the leader's lock); default: opened from config */
  db?: Db;
}

export interface App {
  readonly config: Config;
  readonly url: string;
  readonly token: string;
  readonly hub: EventHub;
  readonly loop: MonitorLoop<NodeSamples>;
  readonly board: StatusBoard;
  readonly engine: SchedulerEngine;
  readonly dispatcher: Dispatcher;
  readonly workers: WorkerService;
  readonly workflows: WorkflowService;
  readonly hints: HintService;
  readonly http: HttpServer;
  /** the push workers (--push-workers), when there are any */
  readonly pushWorkers: PushWorkers | undefined;
  /** Read the configuration again and apply what a running server can take (runtime/reload.ts; SIGHUP). */
  reload(read: () => Config): ReloadOutcome | null;
  close(): Promise<void>;
}

export async function startApp(config: Config, deps: AppDeps = {}): Promise<App> {
  const clock = deps.clock ?? systemClock;
  const log = deps.log ?? createLogger(config.logLevel);
  const node = config.nodeName ?? os.hostname();
  const startedAt = clock.now();
  const token = loadOrCreateToken(config.dataDir, config.token);
  const stores = openStores(config, clock, log, deps.db);
  const auth = new Auth(token, config.auth, config.adminToken, { now: () => clock.now(), tokens: stores.tokenStore });
  const { db, archive, historyStore } = stores;
  const board = new StatusBoard(node, stores.history, clock);
  const hub = new EventHub({
    clock,
    replayCount: config.push.replayCount,
    replayMaxAgeMs: config.push.replayMaxAgeMs,
    // PostgreSQL (replicas): the ids in the database they share; SQLite: a file beside it (one fsync per id block)
    ids: db.dialect === 'postgres' ? new DbIdStore(db) : new FileIdStore(join(config.dataDir, 'event-id')),
    archive,
  });
  board.onSnapshot((s) => hub.publish('resource_status', s));
  // hub replicas: every event into the Redis stream the followers serve from
  const stream = config.redis
    ? new EventStreamWriter({ url: config.redis, key: streamKey(storeId(db)), log: log.child({ part: 'redis' }), maxLen: Math.max(10_000, config.push.replayCount) })
    : undefined;
  stream?.attach(hub);
  // a worker's GPU processes are its allocation's, not unmanaged users in the way (the workers come next)
  const owners: { of: NonNullable<SchedulerServiceOptions['ownerOf']> } = { of: () => null };
  // every node's latest snapshot (the hub's own, the agents'), once the agents' registry exists
  const latestOf: { node: (n: string) => ResourceStatus | null } = { node: () => board.snapshot() };
  const { engine, scheduler, strategies, hints } = schedulerParts(config, { clock, log, node, board, hub, stores, ownerOf: (user, n) => owners.of(user, n), latestOf: (n) => latestOf.node(n) });
  const customPolicy = await loadPolicyModule(config.dispatch.policyModule);
  const { dispatcher, dispatch } = dispatchParts(config, { clock, log, hub, stores, customPolicy });
  const loop = nodeMonitor({ config, clock, log, board, sources: deps });
  // workers on agents' nodes: the agents' side carries the hub's calls and their reports
  const agentWorkers = new AgentWorkerChannelImpl({ log: log.child({ part: 'agents' }) });
  const workers = workerParts(config, { clock, log, node, hub, stores, engine, backends: deps.workerBackends, agentWorkers });
  owners.of = (user, n) => workers.ownerOf(user, n);
  const workflows = new WorkflowService({
    book: new WorkflowBook(clock), workers, engine, hub, clock, log: log.child({ part: 'workflows' }),
    store: stores.workflowStore, transact: (fn) => db.transaction(fn)(),
  });

  const app = express();
  app.disable('x-powered-by');
  app.set('query parser', 'simple');
  const http = createServer(app);
  const { sse, sockets, websockets, workers: pushWorkers } = pushTransports(http, hub, auth, config.push, log,
    config.push.workers > 0 ? new PushWorkers(hub, { count: config.push.workers, config, token, log: log.child({ part: 'push' }), wrongToken: (a) => auth.lockout.failed(a) }) : undefined);
  const { registry, agents } = agentParts(config, { clock, log, engine, scheduler, sockets, node, agentWorkers });
  latestOf.node = (n) => (n === node ? board.snapshot() : registry.get(n)?.latest ?? null);
  const metrics = new Metrics();
  bindMetrics(metrics, { board, hub, engine, clientCounts: () => {
    const handed = pushWorkers?.clientCounts() ?? noHandedClients();
    return { sse: sse.clientCount + handed.sse, 'socket.io': sockets.clientCount + handed.io, websocket: websockets.clientCount + handed.ws };
  } });

  app.use(healthRoutes({ startedAt, now: () => clock.now(), node, sources: () => loop.statuses(), authorized: (req) => auth.verify(Auth.tokenOf(req), req.socket.remoteAddress) === 'ok' }));
  app.get('/health', dispatchHealth(dispatcher));
  // every other request, with a token or without (its address), before the token is even checked
  app.use(rateLimit(config, clock));
  app.get('/', auth.loginRedirect());
  // /workflows is a view of the dashboard too: a browser opening it gets the page, API clients the JSON
  app.use('/workflows', dashboardPage(undefined, 'prefers-html'));
  // the API first (static files hold no data and need no token, but should not cost every API call a stat())
  app.use(['/api', '/metrics', ...DISPATCH_PATHS, ...WORKFLOW_PATHS], auth.middleware());
  // a workflow of 100,000 jobs is a large body (parsed here, the next parser leaves it)
  app.use([...WORKFLOW_PATHS, '/api/workflows'], express.json({ limit: '64mb' }));
  app.use(['/api', ...DISPATCH_PATHS], express.json({ limit: '1mb' }));
  // first the routes that clients call in loops, per task or per engine call: express tries routers in order
  app.use(workerRoutes(workers));
  app.use('/api/workers', engineErrors);
  app.use(dispatchRoutes({
    dispatcher, committed: () => dispatch.committed(), requireAdmin: auth.requireAdmin(), storedTask: (id) => stores.dispatchStore.task(id),
  }));
  app.use([...DISPATCH_PATHS, '/api/dispatch'], dispatchErrors(log));
  app.use(workflowRoutes(workflows));
  app.use([...WORKFLOW_PATHS, '/api/users', '/api/workflows'], workflowErrors(log));
  app.use(eventRoutes(sse));
  app.use(statusRoutes(() => board.snapshot()));
  app.use(historyRoutes(historyStore, () => clock.now()));
  app.use(schedulerRoutes(engine, () => scheduler.committed(), () => clock.now()));
  app.use(strategyRoutes(engine, strategies, auth.requireAdmin(), () => scheduler.committed()));
  app.use(resourceSchedulerRoutes({ snapshot: () => board.snapshot(), engine, strategies, sse, requireAdmin: auth.requireAdmin(), committed: () => scheduler.committed() }));
  app.use(sessionRoutes(auth));
  app.use(doctorRoutes(() => diagnose(config), () => clock.now()));
  app.use(tokenRoutes(stores.tokenStore, () => auth.tokensChanged(), () => clock.now()));
  app.use(hintRoutes(hints.book));
  const local = config.agents.localNode ? { name: node, sampledAt: () => board.snapshot().sampledAt } : null;
  app.use(nodeRoutes(() => nodesView({ engine, registry, local })));
  app.use(openApiRoutes());
  app.use(docsRoutes(auth));
  app.use(metricsRoutes(metrics));
  app.use(staticRoutes());
  app.use(notFound);
  app.use(errorBoundary(log));

  await pushWorkers?.started();
  const url = await listen(http, config);
  scheduler.start();
  registry.start();
  dispatch.start();
  for (const i of config.dispatch.instances ?? []) dispatcher.register(i.host, i.port, i.model_name, i.weight);
  await workers.start();
  workflows.start();
  strategies.restored();
  hints.addSource(() => strategies.hints());
  hints.start();
  historyStore.start();
  await loop.start();

  let closing: Promise<void> | undefined;
  const close = () =>
    (closing ??= (async () => {
      await loop.stop();
      board.stop();
      scheduler.stop();
      dispatch.stop();
      workflows.stop();
      await workers.stop();
      hints.stop();
      registry.stop();
      await agents.close();
      sse.closeAll();
      await pushWorkers?.close();
      // before socket.io's close, which closes the http server and waits for every connection, ours too
      await websockets.close();
      await sockets.close();
      http.closeAllConnections();
      await new Promise<void>((r) => http.close(() => r()));
      hub.close();
      await stream?.close();
      historyStore.close();
      db.close();
    })());

  const reload = (read: () => Config) => reloadConfig(read, { config, log, loop });
  return { config, url, token, hub, loop, board, engine, dispatcher, workers, workflows, hints, http, pushWorkers, reload, close };
}

type Stores = ReturnType<typeof openStores>;

/** The database and what lives in it: scheduler state, the event archive, history older than the memory window. */
function openStores(config: Config, clock: Clock, log: Logger, opened?: Db) {
  const history = new History(config.monitor.historySeconds);
  const db = opened ?? (config.database ? openPostgres({ url: config.database }) : openDatabase({ dataDir: config.dataDir }));
  log.info({ database: db.name }, 'store opened');
  const schedulerStore = new SchedulerStore(db);
  const archive = new EventStore(db, { clock });
  // history older than the in-memory window: buckets rolled up into the database
  const historyStore = new HistoryStore(db, {
    clock, history, bucketMs: config.monitor.historyBucketMs, retentionMs: config.monitor.historyRetentionMs, log: log.child({ part: 'history' }),
  });
  const dispatchStore = new DispatchStore(db);
  const workerStore = new WorkerStore(db);
  const workflowStore = new WorkflowStore(db);
  const tokenStore = new TokenStore(db);
  return { db, history, schedulerStore, archive, historyStore, dispatchStore, workerStore, workflowStore, tokenStore };
}

/** The scheduling core and the runtime services that wire it to the store, the hub, the board and the hints. */
function schedulerParts(config: Config, p: { clock: Clock; log: Logger; node: string; board: StatusBoard; hub: EventHub; stores: Stores; ownerOf: NonNullable<SchedulerServiceOptions['ownerOf']>; latestOf: (node: string) => ResourceStatus | null }) {
  const { clock, log, node, board, hub, stores: { db, schedulerStore, archive } } = p;
  const engine = new SchedulerEngine({
    clock, node, leases: { defaultMs: config.scheduler.leaseDefaultMs, maxMs: config.scheduler.leaseMaxMs },
    strategy: StrategyService.initialStrategy(schedulerStore, config.scheduler.strategy),
    maxWaitingPerOwner: config.scheduler.maxWaitingPerOwner,
    gpuUtilisation: (n, index) => p.latestOf(n)?.gpus.find((g) => g.index === index)?.utilizationGpuPercent ?? null,
  });
  const scheduler = new SchedulerService({
    engine, hub, board, clock, log: log.child({ part: 'scheduler' }),
    store: schedulerStore,
    transact: (fn) => db.transaction(fn)(),
    restore: schedulerStore.load(),
    housekeeping: () => archive.trim({ maxCount: config.push.archiveCount, maxAgeMs: config.push.archiveMaxAgeMs }),
    ownerOf: p.ownerOf,
    localNode: config.agents.localNode,
    ...(config.resources ? { declared: { resources: config.resources } } : {}),
  });
  const strategies = new StrategyService({ engine, clock, store: schedulerStore, starvationMs: config.scheduler.starvationMs });
  // the config's own object: a reload changes it in place, and the rules read it at every evaluation
  const hints = new HintService(engine, hub, clock, config.hints);
  return { engine, scheduler, strategies, hints };
}

/** Task dispatch: the dispatcher (pure) and the service that delivers, probes, stores and pushes for it. */
function dispatchParts(config: Config, p: { clock: Clock; log: Logger; hub: EventHub; stores: Stores; customPolicy: PolicyFactory | undefined }) {
  const { clock, log, hub, stores: { db, dispatchStore } } = p;
  const c = config.dispatch;
  const dispatcher = new Dispatcher({
    clock, policy: c.policy, ...(p.customPolicy ? { customPolicy: p.customPolicy } : {}), maxAttempts: c.maxAttempts, downAfter: c.downAfter, predictor: new Predictor({ ...(c.predictor ? { table: c.predictor } : {}) }),
  });
  const dispatch = new DispatchService({
    dispatcher, hub, clock, log: log.child({ part: 'dispatch' }), store: dispatchStore, transact: (fn) => db.transaction(fn)(),
    restore: dispatchStore.load(clock.now() - c.retentionMs),
    deliveryTimeoutMs: c.timeoutMs, probeMs: c.probeMs, lostAfterMs: c.lostAfterMs, retentionMs: c.retentionMs,
  });
  return { dispatcher, dispatch };
}

/** --rate-limit and --rate-burst per token and per address, on the app's clock. */
export function rateLimit(config: Pick<Config, 'rateLimit' | 'rateBurst'>, clock: Clock) {
  return new RateLimit({ perSecond: config.rateLimit, burst: config.rateBurst, now: () => clock.now() }).middleware();
}

/**
 * Listens on the configured host and port, its connections capped (--max-connections); resolves to the URL clients
 * use (port 0 becomes the real port).
 */
export async function listen(http: HttpServer, config: Pick<Config, 'host' | 'port' | 'maxConnections'>): Promise<string> {
  capConnections(http, connectionCap(config.maxConnections));
  await new Promise<void>((resolve, reject) => {
    http.once('error', reject);
    http.listen(config.port, config.host, () => resolve());
  });
  const { port } = http.address() as AddressInfo;
  const hostForUrl = config.host.includes(':') ? `[${config.host}]` : config.host === '0.0.0.0' ? '127.0.0.1' : config.host;
  return `http://${hostForUrl}:${port}`;
}

/**
 * Workers: the book (pure) and the service that runs them on the backends this server has — local processes
 * always (their logs under <data-dir>/workers), containers when the Docker source is on — and on the agents' nodes,
 * where their agents run them (RemoteBackends).
 */
function workerParts(config: Config, p: { clock: Clock; log: Logger; node: string; hub: EventHub; stores: Stores; engine: SchedulerEngine; backends: AppDeps['workerBackends']; agentWorkers: AgentWorkerChannelImpl }) {
  const { clock, log, hub, engine, stores: { db, workerStore } } = p;
  const node = config.agents.localNode ? p.node : null;
  const c = config.workers;
  const backends = p.backends ?? defaultWorkerBackends(config, log);
  return new WorkerService({
    engine, node, remote: new RemoteBackends(p.agentWorkers), book: new WorkerBook(clock), backends, defaultBackend: c.backend, hub, clock, log: log.child({ part: 'workers' }),
    store: workerStore, transact: (fn) => db.transaction(fn)(), freePort: () => freePort('127.0.0.1'),
    graceMs: c.graceMs, callTimeoutMs: c.callTimeoutMs, renewMs: c.renewMs, retentionMs: c.retentionMs,
  });
}

/**
 * Other nodes: agents join on their own socket.io namespace with the agent token (none given: no agent is
 * accepted), their snapshots go to the engine and the push, and the registry declares silent nodes unreachable.
 */
function agentParts(config: Config, p: { clock: Clock; log: Logger; engine: SchedulerEngine; scheduler: SchedulerService; sockets: SocketServer; node: string; agentWorkers: AgentWorkerChannelImpl }) {
  const log = p.log.child({ part: 'nodes' });
  const registry = new NodeRegistry({ engine: p.engine, clock: p.clock, log, unreachableAfterMs: config.agents.unreachableAfterMs, localNode: p.node });
  const agentAuth = config.agents.token !== undefined ? new Auth(config.agents.token, true) : undefined;
  const agents = new AgentGateway((name) => p.sockets.namespace(name), {
    registry, clock: p.clock, log, take: (status) => p.scheduler.nodeSnapshot(status), workers: p.agentWorkers,
    ...(agentAuth ? { checkToken: (t: string) => agentAuth.check(t) } : {}),
  });
  return { registry, agents };
}

function defaultWorkerBackends(config: Config, log: Logger): Partial<Record<WorkerBackendKind, Backend>> {
  return {
    local: new LocalBackend({ logDir: join(config.dataDir, 'workers'), log: log.child({ part: 'workers', backend: 'local' }) }),
    ...(config.monitor.docker ? { docker: new DockerBackend({ ...(config.monitor.dockerHost ? { dockerHost: config.monitor.dockerHost } : {}), log: log.child({ part: 'workers', backend: 'docker' }) }) } : {}),

  };
}
