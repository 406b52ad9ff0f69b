/**
 * The docker source: the containers of a Docker (or Podman) engine with their stats, health and GPUs.
 *
 * The list is kept by events, not by polling: one full list at connection, then the `/events` stream
 * (type=container) — subscribed *before* the list is taken, so nothing between the two is lost — makes us inspect
 * the container an event names (or drop it on destroy/remove); a periodic full re-list heals missed events.
 * Every applied event is reported through `onChange` at once, so the app pushes lifecycle changes within a second
 * rather than at the next sample. `sample()` (every 2 s from the loop) measures the running containers, all
 * concurrently, each request bounded by a timeout, and returns the full list.
 *
 * No socket → `SourceUnavailableError` (normal without Docker). A lost connection (the event stream ends, or a
 * request cannot connect) makes `sample()` throw with the reason while we reconnect with exponential backoff;
 * on reconnection the list is rebuilt from scratch.
 */
import { setMaxListeners } from 'node:events';
import type { Readable } from 'node:stream';
import type { Container } from '../../../../shared/resources.ts';
import { systemClock, type Clock, type Timer } from '../../../clock.ts';
import { SourceUnavailableError, type Source } from '../../loop.ts';
import { dockerodeApi, type EngineApi } from './api.ts';
import { describeError, isAbsent, isConnectionError, resolveTarget, DEFAULT_SOCKET, type EngineTarget } from './connection.ts';
import { classifyEvent, coalesce, JsonLines, type ContainerAction, type EngineEvent } from './events.ts';
import { containerGpus, type GpuRef } from './gpus.ts';
import { infoFromInspect, statusText, type ContainerInfo } from './inspect.ts';
import { DEFAULT_CONTAINER_THRESHOLDS, rateContainer, RestartTracker, validateThresholds, type ContainerThresholds } from './rating.ts';
import { NO_STATS, parseStatsBody, readingOf, StatsTracker, type ContainerStats } from './stats.ts';
import { StatsStreams } from './streams.ts';

export type StatsMode = 'one-shot' | 'stream';

export interface DockerSourceOptions {
  /** @default systemClock */
  clock?: Clock;
  /** engine address, unix:///path or tcp://host:port (`--docker-host`). @default DOCKER_HOST, else /var/run/docker.sock */
  dockerHost?: string;
  /** environment read for DOCKER_HOST and default sockets (tests). @default process.env */
  env?: NodeJS.ProcessEnv;
  /** one stats request per running container per sample, or one long stream each. @default 'one-shot' */
  statsMode?: StatsMode;
  /** full re-list that heals missed events, ms. @default 60_000 */
  resyncMs?: number;
  /** bound on each stats request, ms (below the loop's sample timeout). @default 3_000 */
  statsTimeoutMs?: number;
  /** bound on version, list, inspect and on opening the event stream, ms. @default 5_000 */
  requestTimeoutMs?: number;
  /** first reconnection delay, doubled per failure. @default 500 */
  reconnectMinMs?: number;
  /** @default 30_000 */
  reconnectMaxMs?: number;
  /** health thresholds. @default DEFAULT_CONTAINER_THRESHOLDS */
  thresholds?: Partial<ContainerThresholds>;
  /** called with the full list right after an engine event (or a re-list) changed it */
  onChange?: (containers: Container[]) => void;
  /** this machine's GPUs (from the GPU source), to expand "all" and fill in index ↔ uuid */
  gpuInventory?: () => readonly GpuRef[];
  /** the engine client (tests substitute a fake). @default dockerode */
  engineApi?: (target: EngineTarget) => EngineApi;
}

type ConnState = 'idle' | 'connecting' | 'connected' | 'lost' | 'absent' | 'stopped';

interface EngineInfo {
  apiVersion: string;
  podman: boolean;
  oneShot: boolean;
  nvidiaDefaultRuntime: boolean;
}

export const DOCKER_DEFAULTS = {
  statsMode: 'one-shot' as StatsMode,
  resyncMs: 60_000,
  statsTimeoutMs: 3_000,
  requestTimeoutMs: 5_000,
  reconnectMinMs: 500,
  reconnectMaxMs: 30_000,
};

/** "1.41" ≥ "1.40"? */
export function apiAtLeast(version: string, min: string): boolean {
  const [a = 0, b = 0] = version.split('.').map(Number);
  const [c = 0, d = 0] = min.split('.').map(Number);
  return a > c || (a === c && b >= d);
}

export class DockerSource implements Source<Container[]> {
  readonly name = 'docker';
  private readonly clock: Clock;
  private readonly thresholds: ContainerThresholds;
  private readonly o: typeof DOCKER_DEFAULTS;

  private state: ConnState = 'idle';
  private gen = 0;
  private target: EngineTarget | null = null;
  private client: EngineApi | null = null;
  private engine: EngineInfo | null = null;
  private lastError: Error | null = null;
  private everConnected = false;
  private connecting: Promise<void> | null = null;
  private reconnectAttempts = 0;
  private reconnectTimer: Timer | null = null;
  private resyncTimer: Timer | null = null;
  private events: { abort: AbortController } | null = null;

  private readonly infos = new Map<string, ContainerInfo>();
  private readonly stats = new Map<string, ContainerStats>();
  private readonly tracker = new StatsTracker();
  private readonly restarts: RestartTracker;
  private readonly streams: StatsStreams;
  private pending = new Map<string, ContainerAction>();
  private resyncWanted = false;
  private processing: Promise<void> | null = null;

  constructor(private readonly opts: DockerSourceOptions = {}) {
    this.clock = opts.clock ?? systemClock;
    this.o = {
      statsMode: opts.statsMode ?? DOCKER_DEFAULTS.statsMode,
      resyncMs: opts.resyncMs ?? DOCKER_DEFAULTS.resyncMs,
      statsTimeoutMs: opts.statsTimeoutMs ?? DOCKER_DEFAULTS.statsTimeoutMs,
      requestTimeoutMs: opts.requestTimeoutMs ?? DOCKER_DEFAULTS.requestTimeoutMs,
      reconnectMinMs: opts.reconnectMinMs ?? DOCKER_DEFAULTS.reconnectMinMs,
      reconnectMaxMs: opts.reconnectMaxMs ?? DOCKER_DEFAULTS.reconnectMaxMs,
    };
    if (this.o.reconnectMinMs > this.o.reconnectMaxMs) {
      throw new Error(`reconnectMinMs (${this.o.reconnectMinMs}) must not exceed reconnectMaxMs (${this.o.reconnectMaxMs})`);
    }
    this.thresholds = {
      memory: opts.thresholds?.memory ?? DEFAULT_CONTAINER_THRESHOLDS.memory,
      restartLoop: opts.thresholds?.restartLoop ?? DEFAULT_CONTAINER_THRESHOLDS.restartLoop,
    };
    validateThresholds(this.thresholds);
    this.restarts = new RestartTracker(this.thresholds.restartLoop.windowMs);
    this.streams = new StatsStreams((id) => this.openStatsStream(id), () => this.clock.now());
  }

  /** The engine address in use (after the first connection attempt), e.g. "unix:///var/run/docker.sock". */
  get address(): string | null {
    return this.target?.label ?? null;
  }

  /** Connected to the engine, with the list in sync. */
  get connected(): boolean {
    return this.state === 'connected';
  }

  /** Connect, subscribe to events and take the first list. Failures surface again at the first sample. */
  async start(): Promise<void> {
    await this.connect().catch(() => {});
  }

  async sample(): Promise<Container[]> {
    if (this.state === 'connecting') await this.connecting;
    else if (this.state === 'idle' || this.state === 'absent') await this.connect();
    if (this.state === 'stopped') throw new Error('docker source stopped');
    if (this.state !== 'connected') throw this.lastError ?? new Error('not connected to the Docker engine');
    const gen = this.gen;
    if (this.o.statsMode === 'stream') this.readStreams();
    else await this.statsRound(gen);
    return this.list();
  }

  async stop(): Promise<void> {
    this.state = 'stopped';
    this.gen++;
    this.teardown();
  }

  /** The current list (figures of the last sample), as `sample()` returns it. */
  list(): Container[] {
    const now = this.clock.now();
    const inventory = this.opts.gpuInventory?.();
    const out: Container[] = [];
    for (const info of this.infos.values()) {
      const live = info.state === 'running' || info.state === 'paused';
      const s = live ? this.stats.get(info.id) ?? NO_STATS : NO_STATS;
      const honourEnv = !this.engine || this.engine.podman || this.engine.nvidiaDefaultRuntime || (info.runtime ?? '').includes('nvidia');
      const c: Container = {
        id: info.id,
        name: info.name,
        image: info.image,
        state: info.state,
        statusText: statusText(info, now),
        createdAt: info.createdAt,
        startedAt: info.startedAt,
        labels: info.labels,
        ports: info.ports,
        restartCount: info.restartCount,
        healthcheck: info.healthcheck,
        ...s,
        gpus: containerGpus(info, { inventory, honourEnv }),
        health: 'healthy',
        sampledAt: now,
      };
      c.health = rateContainer(c, this.restarts.risen(info.id, now), this.thresholds);
      out.push(c);
    }
    return out.sort((a, b) => a.name.localeCompare(b.name) || a.id.localeCompare(b.id));
  }

  // ---------------------------------------------------------------- connection

  private connect(): Promise<void> {
    if (this.connecting) return this.connecting;
    this.connecting = this.doConnect().finally(() => {
      this.connecting = null;
    });
    return this.connecting;
  }

  private async doConnect(): Promise<void> {
    this.teardown();
    const gen = ++this.gen;
    this.state = 'connecting';
    try {
      this.target = await resolveTarget(this.opts.dockerHost, this.opts.env ?? process.env);
      if (!this.target) {
        throw new SourceUnavailableError(`no Docker engine: no socket at ${DEFAULT_SOCKET} (set DOCKER_HOST or --docker-host)`);
      }
      const t = this.target;
      const client = (this.opts.engineApi ?? dockerodeApi)(t);
      this.client = client;
      const [version, info] = await Promise.all([
        client.version(this.timeout()),
        client.info(this.timeout()).catch(() => null),
      ]);
      const apiVersion = version.ApiVersion ?? '1.24';
      this.engine = {
        apiVersion,
        podman: (version.Components ?? []).some((c) => /podman/i.test(c.Name ?? '')),
        oneShot: apiAtLeast(apiVersion, '1.41'),
        nvidiaDefaultRuntime: /nvidia/i.test(info?.DefaultRuntime ?? ''),
      };
      // subscribe before the list, so that no change between the two is missed
      await this.openEvents(gen, client);
      await this.relist(gen, client);
      if (gen !== this.gen) return;
      this.state = 'connected';
      this.everConnected = true;
      this.reconnectAttempts = 0;
      this.lastError = null;
      this.scheduleResync(gen);
      this.emitChange();
      this.kick(gen); // events that arrived during the list
    } catch (err) {
      if (gen !== this.gen || (this.state as ConnState) === 'stopped') throw err;
      this.teardown();
      const t = this.target;
      if (err instanceof SourceUnavailableError) {
        this.state = 'absent';
        this.lastError = err;
      } else if (!this.everConnected && t?.kind === 'unix' && isAbsent(err)) {
        // nothing listens on the socket: no engine here (yet), not a failure
        this.state = 'absent';
        this.lastError = new SourceUnavailableError(`no Docker engine: ${describeError(err, t)}`);
      } else {
        this.state = 'lost';
        const what = this.everConnected ? 'cannot reconnect to' : 'cannot connect to';
        this.lastError = new Error(`${what} the Docker engine at ${t?.label ?? '?'}: ${t ? describeError(err, t) : String(err)}`);
        this.scheduleReconnect();
      }
      throw this.lastError;
    }
  }

  /** The connection is gone: report it from now on and reconnect with backoff. */
  private lost(gen: number, err: unknown): void {
    if (gen !== this.gen || this.state !== 'connected') return;
    const t = this.target!;
    this.teardown();
    this.gen++;
    this.state = 'lost';
    this.lastError = new Error(`lost the connection to the Docker engine at ${t.label}: ${describeError(err, t)}; reconnecting`);
    this.scheduleReconnect();
  }

  private scheduleReconnect(): void {
    if (this.state === 'stopped') return;
    const delay = Math.min(this.o.reconnectMaxMs, this.o.reconnectMinMs * 2 ** Math.min(this.reconnectAttempts, 20));
    this.reconnectAttempts++;
    this.reconnectTimer?.cancel();
    this.reconnectTimer = this.clock.setTimeout(() => {
      this.reconnectTimer = null;
      if (this.state === 'lost') this.connect().catch(() => {});
    }, delay);
  }

  /** Close everything of the current connection (the list is kept until the next one replaces it). */
  private teardown(): void {
    this.events?.abort.abort();
    this.events = null;
    this.streams.closeAll();
    this.resyncTimer?.cancel();
    this.resyncTimer = null;
    if (this.state === 'stopped') {
      this.reconnectTimer?.cancel();
      this.reconnectTimer = null;
    }
    this.pending = new Map();
    this.resyncWanted = false;
  }

  // ---------------------------------------------------------------- events and list

  private async openEvents(gen: number, client: EngineApi): Promise<void> {
    const abort = new AbortController();
    const timer = setTimeout(() => abort.abort(new Error('the event stream did not open in time')), this.o.requestTimeoutMs);
    let stream: Readable;
    try {
      stream = await client.containerEvents(abort.signal);
    } finally {
      clearTimeout(timer);
    }
    if (gen !== this.gen) {
      // stopped (or torn down) while the stream was opening
      abort.abort();
      stream.destroy();
      return;
    }
    this.events = { abort };
    const lines = new JsonLines((v) => this.onEvent(gen, v as EngineEvent));
    stream.on('data', (chunk: Buffer) => lines.push(chunk));
    const ended = (err?: unknown) => {
      if (abort.signal.aborted) return;
      this.lost(gen, err ?? Object.assign(new Error('the engine closed the event stream'), { code: 'ECONNRESET' }));
    };
    stream.on('end', () => ended());
    stream.on('close', () => ended());
    stream.on('error', (err) => ended(err));
  }

  private onEvent(gen: number, ev: EngineEvent): void {
    if (gen !== this.gen) return;
    const c = classifyEvent(ev);
    if (!c) return;
    coalesce(this.pending, c);
    if (this.state === 'connected') this.kick(gen);
  }

  /** Work through pending events (and wanted re-lists), one batch at a time, so that nothing overlaps. */
  private kick(gen: number): void {
    if (this.processing) return;
    this.processing = this.process(gen).finally(() => {
      this.processing = null;
      // events that came while the last batch was being finished
      if (gen === this.gen && this.state === 'connected' && (this.pending.size || this.resyncWanted)) this.kick(gen);
    });
  }

  private async process(gen: number): Promise<void> {
    const client = this.client!;
    while (gen === this.gen && this.state === 'connected' && (this.resyncWanted || this.pending.size)) {
      try {
        if (this.resyncWanted) {
          this.resyncWanted = false;
          const changed = await this.relist(gen, client);
          if (changed) this.emitChange();
          continue;
        }
        const batch = this.pending;
        this.pending = new Map();
        let connErr: unknown = null;
        const results = await Promise.all(
          [...batch].map(async ([id, action]) => {
            if (action === 'remove') return { id, info: null };
            try {
              return { id, info: await this.inspect(client, id) };
            } catch (err) {
              // an inspect that failed for another reason keeps what we knew; the next re-list heals it
              if (isConnectionError(err)) connErr ??= err;
              return { id, info: undefined };
            }
          }),
        );
        if (gen !== this.gen) return;
        if (connErr) throw connErr;
        for (const { id, info } of results) {
          if (info) this.apply(info);
          else if (info === null) this.drop(id);
        }
        this.emitChange();
      } catch (err) {
        if (isConnectionError(err)) {
          this.lost(gen, err);
          return;
        }
        // a failed re-list: the next one heals it
      }
    }
  }

  /** Inspect one container; null when it no longer exists. */
  private async inspect(client: EngineApi, id: string): Promise<ContainerInfo | null> {
    try {
      return infoFromInspect(await client.inspect(id, this.timeout()));
    } catch (err) {
      if ((err as { statusCode?: number }).statusCode === 404) return null;
      throw err;
    }
  }

  /** A full list: every container inspected, the result replacing ours. Returns whether anything we show changed. */
  private async relist(gen: number, client: EngineApi): Promise<boolean> {
    const ids = await client.list(this.timeout());
    const infos = await Promise.all(ids.map((id) => this.inspect(client, id)));
    if (gen !== this.gen) return false;
    const before = this.fingerprint();
    const fresh = new Set<string>();
    for (const info of infos) {
      if (!info) continue;
      fresh.add(info.id);
      this.apply(info);
    }
    for (const id of [...this.infos.keys()]) if (!fresh.has(id)) this.drop(id);
    return this.fingerprint() !== before;
  }

  private fingerprint(): string {
    return [...this.infos.values()].map((i) => `${i.id}:${i.state}:${i.restartCount}:${i.healthcheck}:${i.name}`).sort().join('|');
  }

  private apply(info: ContainerInfo): void {
    this.infos.set(info.id, info);
    this.restarts.observe(info.id, info.restartCount, this.clock.now());
    const live = info.state === 'running' || info.state === 'paused';
    if (!live) {
      this.stats.delete(info.id);
      this.tracker.forget(info.id);
      this.streams.close(info.id);
    } else if (this.o.statsMode === 'stream' && this.state !== 'stopped') {
      this.streams.ensure(info.id);
    }
  }

  private drop(id: string): void {
    this.infos.delete(id);
    this.stats.delete(id);
    this.tracker.forget(id);
    this.restarts.forget(id);
    this.streams.close(id);
  }

  private scheduleResync(gen: number): void {
    this.resyncTimer = this.clock.setTimeout(() => {
      this.resyncTimer = null;
      if (gen !== this.gen || this.state !== 'connected') return;
      this.resyncWanted = true;
      this.kick(gen);
      this.scheduleResync(gen);
    }, this.o.resyncMs);
  }

  private emitChange(): void {
    const cb = this.opts.onChange;
    if (!cb) return;
    try {
      cb(this.list());
    } catch {
      // a listener's failure is its own
    }
  }

  // ---------------------------------------------------------------- stats

  private liveIds(): string[] {
    return [...this.infos.values()].filter((i) => i.state === 'running' || i.state === 'paused').map((i) => i.id);
  }

  /** One-shot mode: ask every running container at once, each request bounded. */
  private async statsRound(gen: number): Promise<void> {
    const client = this.client!;
    const ids = this.liveIds();
    const oneShot = this.engine?.oneShot ?? false;
    let connErr: unknown = null;
    let failed = 0;
    let firstErr: unknown = null;
    // one deadline for the round (the requests start together): one timer instead of one per container
    const deadline = new AbortController();
    setMaxListeners(ids.length * 3 + 10, deadline.signal); // dockerode adds two listeners per request
    const timer = setTimeout(() => deadline.abort(new Error(`stats request timed out after ${this.o.statsTimeoutMs} ms`)), this.o.statsTimeoutMs);
    await Promise.all(
      ids.map(async (id) => {
        try {
          const body = await client.statsOnce(id, oneShot, deadline.signal);
          if (gen !== this.gen) return;
          const parsed = parseStatsBody(body);
          if (!parsed) {
            // stopped between the list and the request: HTTP 200 with an empty body
            this.stats.delete(id);
            return;
          }
          this.stats.set(id, this.tracker.update(id, readingOf(parsed, this.clock.now())));
        } catch (err) {
          failed++;
          firstErr ??= err;
          if (isConnectionError(err)) connErr ??= err;
          // 404: removed meanwhile (its event follows); a timeout keeps the last figures this once
        }
      }),
    ).finally(() => clearTimeout(timer));
    if (connErr) {
      this.lost(gen, connErr);
      throw this.lastError;
    }
    if (ids.length > 0 && failed === ids.length) {
      const msg = firstErr instanceof Error ? firstErr.message : String(firstErr);
      throw new Error(`container stats failed for all ${ids.length} running containers: ${msg}`);
    }
  }

  /** Stream mode: use each container's latest frame (streams are opened as containers start). */
  private readStreams(): void {
    for (const id of this.liveIds()) {
      this.streams.ensure(id);
      const r = this.streams.latest(id);
      if (r) this.stats.set(id, this.tracker.update(id, r));
    }
  }

  private async openStatsStream(id: string): Promise<Readable> {
    const client = this.client;
    if (!client) throw new Error('not connected');
    return client.statsStream(id);
  }

  private timeout(): AbortSignal {
    return AbortSignal.timeout(this.o.requestTimeoutMs);
  }
}
