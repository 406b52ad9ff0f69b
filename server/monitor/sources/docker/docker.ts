/**
 * The docker source: the containers of a Docker (or Podman) engine with their stats, health and GPUs.
 *
 * This module owns the connection and coordinates the parts that work over it: `containers.ts` keeps the list
 * current from the `/events` stream and periodic re-lists, `rounds.ts` refreshes the figures of the running
 * containers, `engine.ts` says what the engine is, `assemble.ts` makes the list we report. Every applied event is
 * reported through `onChange` at once, so the app pushes lifecycle changes within a second rather than at the next
 * sample. `sample()` (every 2 s from the loop) measures the running containers, all concurrently, each request
 * bounded by a timeout, and returns the full list.
 *
 * No socket → `SourceUnavailableError` (normal without Docker). A lost connection (the event stream ends, or a
 * request cannot connect) makes `sample()` throw with the reason while we reconnect with exponential backoff;
 * on reconnection the list is rebuilt from scratch.
 */
import type { Readable } from 'node:stream';
import type { Container } from '../../../../shared/resources.ts';
import { systemClock, type Clock, type Timer } from '../../../clock.ts';
import { SourceUnavailableError, type Source } from '../../loop.ts';
import { dockerodeApi, type EngineApi } from './api.ts';
import { assembleContainers } from './assemble.ts';
import { describeError, isAbsent, resolveTarget, DEFAULT_SOCKET, type EngineTarget } from './connection.ts';
import { ContainerList } from './containers.ts';
import { probeEngine, type EngineInfo } from './engine.ts';
import { resolveDockerOptions, type DockerSettings, type DockerSourceOptions } from './options.ts';
import type { ContainerThresholds } from './rating.ts';
import { StatsRounds } from './rounds.ts';

export { apiAtLeast } from './engine.ts';
export { DOCKER_DEFAULTS, type DockerSourceOptions, type StatsMode } from './options.ts';

type ConnState = 'idle' | 'connecting' | 'connected' | 'lost' | 'absent' | 'stopped';

export class DockerSource implements Source<Container[]> {
  readonly name = 'docker';
  private readonly clock: Clock;
  private readonly thresholds: ContainerThresholds;
  private readonly o: DockerSettings;

  private state: ConnState = 'idle';
  /** the connection in use; work of an earlier one is dropped */
  private gen = 0;
  private target: EngineTarget | null = null;
  private client: EngineApi | null = null;
  private engine: EngineInfo | null = null;
  private lastError: Error | null = null;
  private everConnected = false;
  private connecting: Promise<void> | null = null;
  private reconnectAttempts = 0;
  private reconnectTimer: Timer | null = null;

  private readonly containers: ContainerList;
  private readonly stats: StatsRounds;

  constructor(private readonly opts: DockerSourceOptions = {}) {
    this.clock = opts.clock ?? systemClock;
    const { o, thresholds } = resolveDockerOptions(opts);
    this.o = o;
    this.thresholds = thresholds;
    this.stats = new StatsRounds({
      now: () => this.clock.now(),
      timeoutMs: this.o.statsTimeoutMs,
      openStream: (id) => this.openStatsStream(id),
    });
    this.containers = new ContainerList(
      {
        current: (gen) => gen === this.gen,
        connected: () => this.state === 'connected',
        client: () => this.client!,
        lost: (gen, err) => this.lost(gen, err),
        changed: () => this.emitChange(),
        live: (id) => {
          if (this.o.statsMode === 'stream' && this.state !== 'stopped') this.stats.follow(id);
        },
        idle: (id) => this.stats.forget(id),
      },
      { clock: this.clock, resyncMs: this.o.resyncMs, requestTimeoutMs: this.o.requestTimeoutMs, restartWindowMs: this.thresholds.restartLoop.windowMs },
    );
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
    if (this.o.statsMode === 'stream') this.stats.readStreams(this.containers.liveIds());
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
    return assembleContainers({
      now: this.clock.now(),
      inventory: this.opts.gpuInventory?.(),
      infos: this.containers.all(),
      stats: (id) => this.stats.of(id),
      restartsRisen: (id, now) => this.containers.restartsRisen(id, now),
      engine: this.engine,
      thresholds: this.thresholds,
    });
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
      this.engine = await probeEngine(client, () => this.timeout());
      // subscribe before the list, so that no change between the two is missed
      await this.containers.openEvents(gen, client);
      await this.containers.relist(gen, client);
      if (gen !== this.gen) return;
      this.state = 'connected';
      this.everConnected = true;
      this.reconnectAttempts = 0;
      this.lastError = null;
      this.containers.scheduleResync(gen);
      this.emitChange();
      this.containers.kick(gen); // events that arrived during the list
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
    this.containers.detach();
    this.stats.closeStreams();
    if (this.state === 'stopped') {
      this.reconnectTimer?.cancel();
      this.reconnectTimer = null;
    }
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

  /** One-shot mode: ask every running container at once; an engine gone fails the sample with the reason. */
  private async statsRound(gen: number): Promise<void> {
    const connErr = await this.stats.oneShot(this.client!, this.containers.liveIds(), this.engine?.oneShot ?? false, () => gen === this.gen);
    if (connErr) {
      this.lost(gen, connErr);
      throw this.lastError;
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
