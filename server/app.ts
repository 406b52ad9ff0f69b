/** Composition root: builds every part from the config, starts them in order and stops them in reverse. */
import { createServer, type Server as HttpServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import { join } from 'node:path';
import express from 'express';
import type { Config } from './config.ts';
import { systemClock, type Clock } from './clock.ts';
import { createLogger, type Logger } from './log.ts';
import { History } from './monitor/history.ts';
import { MonitorLoop, type Source } from './monitor/loop.ts';
import { HostSource } from './monitor/sources/host.ts';
import { GpuSource } from './monitor/sources/gpu/gpu.ts';
import { DockerSource } from './monitor/sources/docker/docker.ts';
import { StatusBoard } from './monitor/status.ts';
import type { Container, Gpu, HostSample } from '../shared/resources.ts';
import { EventHub } from './push/hub.ts';
import { SseServer } from './push/sse.ts';
import { SocketServer } from './push/socket.ts';
import { Auth, loadOrCreateToken } from './http/auth.ts';
import { errorBoundary, notFound } from './http/errors.ts';
import { eventRoutes } from './http/routes/events.ts';
import { healthRoutes } from './http/routes/health.ts';
import { statusRoutes } from './http/routes/status.ts';
import { strategyRoutes } from './http/routes/strategy.ts';
import type { Session } from '../shared/api.ts';
import { StrategyService } from './runtime/strategy-service.ts';
import { historyRoutes } from './http/routes/history.ts';
import { buildOpenApi } from './http/openapi.ts';
import { staticRoutes } from './http/static.ts';
import { Metrics } from './metrics.ts';
import { openDatabase } from './store/db.ts';
import { SchedulerStore } from './store/scheduler-store.ts';
import { EventStore } from './store/event-store.ts';
import { FileIdStore } from './store/event-ids.ts';
import { HistoryStore } from './store/history-store.ts';
import { SchedulerEngine } from './scheduler/engine.ts';
import { SchedulerService } from './runtime/scheduler-service.ts';
import { schedulerRoutes } from './http/routes/scheduler.ts';
import { HintService } from './runtime/hint-service.ts';
import { hintRoutes } from './http/routes/hints.ts';

export interface AppDeps {
  clock?: Clock;
  log?: Logger;
  /** replaces the real host source (tests) */
  hostSource?: Source<HostSample>;
  /** replaces the real gpu source (tests) */
  gpuSource?: Source<Gpu[]>;
  /** replaces the real docker source (tests) */
  dockerSource?: Source<Container[]>;
}

export interface App {
  readonly config: Config;
  readonly url: string;
  readonly token: string;
  readonly hub: EventHub;
  readonly loop: MonitorLoop;
  readonly board: StatusBoard;
  readonly engine: SchedulerEngine;
  readonly hints: HintService;
  readonly http: HttpServer;
  close(): Promise<void>;
}

export async function startApp(config: Config, deps: AppDeps = {}): Promise<App> {
  const clock = deps.clock ?? systemClock;
  const log = deps.log ?? createLogger(config.logLevel);
  const node = config.nodeName ?? os.hostname();
  const startedAt = clock.now();
  const token = loadOrCreateToken(config.dataDir, config.token);
  const auth = new Auth(token, config.auth, config.adminToken);

  const history = new History(config.monitor.historySeconds);
  const board = new StatusBoard(node, history, clock);
  const metrics = new Metrics();
  const db = openDatabase({ dataDir: config.dataDir });
  const schedulerStore = new SchedulerStore(db);
  const archive = new EventStore(db, { clock });
  // history older than the in-memory window: buckets rolled up into the database
  const historyStore = new HistoryStore(db, {
    clock, history, bucketMs: config.monitor.historyBucketMs, retentionMs: config.monitor.historyRetentionMs, log: log.child({ part: 'history' }),
  });
  const hub = new EventHub({
    clock,
    replayCount: config.push.replayCount,
    replayMaxAgeMs: config.push.replayMaxAgeMs,
    ids: new FileIdStore(join(config.dataDir, 'event-id')),
    archive,
  });
  hub.subscribe((ev) => metrics.events.inc({ type: ev.type }));
  board.onSnapshot((s) => {
    metrics.update(s);
    hub.publish('resource_status', s);
  });

  const engine = new SchedulerEngine({
    clock, node, leases: { defaultMs: config.scheduler.leaseDefaultMs, maxMs: config.scheduler.leaseMaxMs },
    strategy: StrategyService.initialStrategy(schedulerStore, config.scheduler.strategy),
    gpuUtilisation: (_node, index) => board.snapshot().gpus.find((g) => g.index === index)?.utilizationGpuPercent ?? null,
  });
  const scheduler = new SchedulerService({
    engine, hub, board, clock, log: log.child({ part: 'scheduler' }),
    store: schedulerStore,
    transact: (fn) => db.transaction(fn)(),
    restore: schedulerStore.load(),
    housekeeping: () => archive.trim({ maxCount: config.push.archiveCount, maxAgeMs: config.push.archiveMaxAgeMs }),
    ...(config.resources ? { declared: { resources: config.resources } } : {}),
  });

  const strategies = new StrategyService({ engine, clock, store: schedulerStore, starvationMs: config.scheduler.starvationMs });
  const hints = new HintService(engine, hub, clock, { leaseWarningMs: config.hints.leaseWarningMs, longWaitMs: config.hints.longWaitMs });

  const loop = new MonitorLoop({ clock, timeoutMs: config.monitor.sampleTimeoutMs, maxBackoffMs: config.monitor.maxBackoffMs });
  const host = deps.hostSource ?? new HostSource({ clock, thresholds: config.health, inventoryIntervalMs: config.monitor.inventoryIntervalMs });
  loop.add(host, config.monitor.hostIntervalMs, (s) => board.setHost(s));
  const gpu = deps.gpuSource ?? (config.monitor.gpu ? new GpuSource({
    nvidiaSmi: config.monitor.nvidiaSmi,
    intervalMs: config.monitor.gpuIntervalMs,
    thresholds: { temperature: config.health.gpuTemperature, memory: config.health.gpuMemory },
    clock,
    log: log.child({ source: 'gpu' }),
  }) : undefined);
  if (gpu) loop.add(gpu, config.monitor.gpuIntervalMs, (g) => board.setGpus(g));
  const docker = deps.dockerSource ?? (config.monitor.docker ? new DockerSource({
    dockerHost: config.monitor.dockerHost,
    statsMode: config.monitor.dockerStatsMode,
    resyncMs: config.monitor.dockerResyncMs,
    clock,
    thresholds: { memory: config.health.containerMemory },
    gpuInventory: () => board.snapshot().gpus.map((g) => ({ index: g.index, uuid: g.uuid })),
    // engine events (start, die, …) are pushed at once, not at the next stats round
    onChange: (c) => board.setContainers(c, { publish: true }),
  }) : undefined);
  if (docker) loop.add(docker, config.monitor.dockerIntervalMs, (c) => board.setContainers(c));
  const lastState = new Map<string, string>();
  loop.onStatus((name, status) => {
    // log changes of state (and of message), not every retry
    const key = `${status.status}:${status.message ?? ''}`;
    if (lastState.get(name) !== key) {
      lastState.set(name, key);
      const level = status.status === 'error' ? 'warn' : 'info';
      log[level]({ source: name, status: status.status, message: status.message }, `source ${name} is ${status.status}`);
    }
    board.setSourceStatus(name, status);
  });

  const app = express();
  app.disable('x-powered-by');
  app.set('query parser', 'simple');
  const http = createServer(app);
  const sse = new SseServer(hub, config.push);
  const sockets = new SocketServer(http, hub, { checkToken: (t) => auth.check(t), tokenOf: (req) => Auth.tokenOf(req), maxBufferedEvents: config.push.maxBufferedEvents });
  metrics.clientCounts = () => ({ sse: sse.clientCount, 'socket.io': sockets.clientCount });
  metrics.schedulerFigures = () => {
    const openConflicts: Record<string, number> = {};
    for (const c of engine.openConflicts()) openConflicts[c.type] = (openConflicts[c.type] ?? 0) + 1;
    return { queued: engine.listQueue('fifo', 1, 0).total, allocations: engine.listAllocations('active').length, openConflicts };
  };
  engine.onChange((batch) => {
    for (const c of batch) {
      metrics.schedulingChanges.inc({ kind: c.kind });
      if (c.kind === 'allocation_granted') metrics.grants.inc();
    }
  });

  app.use(healthRoutes({ startedAt, now: () => clock.now(), node, sources: () => loop.statuses() }));
  app.get('/', auth.loginRedirect());
  // the API first (static files hold no data and need no token, but should not cost every API call a stat())
  app.use(['/api', '/metrics'], auth.middleware());
  app.use('/api', express.json({ limit: '1mb' }));
  app.use(eventRoutes(sse));
  app.use(statusRoutes(() => board.snapshot()));
  app.use(historyRoutes(historyStore, () => clock.now()));
  app.use(schedulerRoutes(engine, () => scheduler.committed(), () => clock.now()));
  app.use(strategyRoutes(engine, strategies, auth.requireAdmin(), () => scheduler.committed()));
  app.get('/api/session', (req, res) => {
    const session: Session = { auth: config.auth, admin: auth.isAdmin(req) };
    res.json(session);
  });
  app.use(hintRoutes(hints.book));
  const openapi = buildOpenApi();
  app.get('/api/openapi.json', (_req, res) => {
    res.json(openapi);
  });
  app.get('/metrics', async (_req, res) => {
    res.type(metrics.registry.contentType).send(await metrics.registry.metrics());
  });
  app.use(staticRoutes());
  app.use(notFound);
  app.use(errorBoundary(log));

  await new Promise<void>((resolve, reject) => {
    http.once('error', reject);
    http.listen(config.port, config.host, () => resolve());
  });
  const { port } = http.address() as AddressInfo;
  const hostForUrl = config.host.includes(':') ? `[${config.host}]` : config.host === '0.0.0.0' ? '127.0.0.1' : config.host;
  const url = `http://${hostForUrl}:${port}`;
  scheduler.start();
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
      hints.stop();
      sse.closeAll();
      await sockets.close();
      http.closeAllConnections();
      await new Promise<void>((r) => http.close(() => r()));
      hub.close();
      historyStore.close();
      db.close();
    })());

  return { config, url, token, hub, loop, board, engine, hints, http, close };
}
