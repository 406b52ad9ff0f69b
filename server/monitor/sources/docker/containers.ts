/**
 * The container list, kept current by the engine rather than by polling: the `/events` stream (type=container),
 * opened *before* the first full list so that nothing between the two is lost, makes us inspect the container an
 * event names (or drop it on destroy/remove); a periodic full re-list heals missed events. Events are coalesced
 * per container and worked through one batch at a time, so that no two inspections of the list overlap.
 *
 * Each call names the connection (`gen`) it belongs to: work of a connection that has been replaced is dropped.
 * The source owns the connection; the list tells it through its `ListLink` when the engine is gone or the list
 * changed, and when a container starts or stops having stats.
 */
import type { Readable } from 'node:stream';
import type { Clock, Timer } from '../../../clock.ts';
import type { EngineApi } from './api.ts';
import { isConnectionError } from './connection.ts';
import { containerGone } from './engine.ts';
import { classifyEvent, coalesce, JsonLines, type ContainerAction, type EngineEvent } from './events.ts';
import { infoFromInspect, isLive, type ContainerInfo } from './inspect.ts';
import { RestartTracker } from './rating.ts';

/** What the list needs of the source that owns the connection. */
export interface ListLink {
  /** `gen` is the connection in use */
  current(gen: number): boolean;
  /** the connection in use is up, its first list taken */
  connected(): boolean;
  /** the engine client of the connection in use */
  client(): EngineApi;
  /** the connection of `gen` is gone (the event stream ended, or a request could not connect) */
  lost(gen: number, err: unknown): void;
  /** events (or a re-list) changed the list */
  changed(): void;
  /** a container is running or paused (seen again, or newly) */
  live(id: string): void;
  /** a container stopped, or is gone */
  idle(id: string): void;
}

export interface ContainerListOptions {
  clock: Clock;
  /** full re-list that heals missed events, ms */
  resyncMs: number;
  /** bound on list, inspect and on opening the event stream, ms */
  requestTimeoutMs: number;
  /** the restart-loop window, ms */
  restartWindowMs: number;
}

export class ContainerList {
  private readonly infos = new Map<string, ContainerInfo>();
  private readonly restarts: RestartTracker;
  private pending = new Map<string, ContainerAction>();
  private resyncWanted = false;
  private processing: Promise<void> | null = null;
  private resyncTimer: Timer | null = null;
  private events: { abort: AbortController } | null = null;

  constructor(
    private readonly link: ListLink,
    private readonly o: ContainerListOptions,
  ) {
    this.restarts = new RestartTracker(o.restartWindowMs);
  }

  /** What we know of every container, as last inspected. */
  all(): IterableIterator<ContainerInfo> {
    return this.infos.values();
  }

  /** The ids of the running and paused containers. */
  liveIds(): string[] {
    return [...this.infos.values()].filter(isLive).map((i) => i.id);
  }

  /** How much a container's restart count rose within the restart-loop window ending at `now`. */
  restartsRisen(id: string, now: number): number {
    return this.restarts.risen(id, now);
  }

  /** Subscribe to the engine's container events for the connection `gen`. */
  async openEvents(gen: number, client: EngineApi): Promise<void> {
    const abort = new AbortController();
    const timer = setTimeout(() => abort.abort(new Error('the event stream did not open in time')), this.o.requestTimeoutMs);
    let stream: Readable;
    try {
      stream = await client.containerEvents(abort.signal);
    } finally {
      clearTimeout(timer);
    }
    if (!this.link.current(gen)) {
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
      this.link.lost(gen, err ?? Object.assign(new Error('the engine closed the event stream'), { code: 'ECONNRESET' }));
    };
    stream.on('end', () => ended());
    stream.on('close', () => ended());
    stream.on('error', (err) => ended(err));
  }

  /** Close the event stream, stop re-listing and forget pending events (the list is kept until the next one replaces it). */
  detach(): void {
    this.events?.abort.abort();
    this.events = null;
    this.resyncTimer?.cancel();
    this.resyncTimer = null;
    this.pending = new Map();
    this.resyncWanted = false;
  }

  /** A full list: every container inspected, the result replacing ours. Returns whether anything we show changed. */
  async relist(gen: number, client: EngineApi): Promise<boolean> {
    const ids = await client.list(this.timeout());
    const infos = await Promise.all(ids.map((id) => this.inspect(client, id)));
    if (!this.link.current(gen)) return false;
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

  /** Re-list every `resyncMs` while the connection `gen` is up. */
  scheduleResync(gen: number): void {
    this.resyncTimer = this.o.clock.setTimeout(() => {
      this.resyncTimer = null;
      if (!this.link.current(gen) || !this.link.connected()) return;
      this.resyncWanted = true;
      this.kick(gen);
      this.scheduleResync(gen);
    }, this.o.resyncMs);
  }

  /** Work through pending events (and wanted re-lists), one batch at a time, so that nothing overlaps. */
  kick(gen: number): void {
    if (this.processing) return;
    this.processing = this.process(gen).finally(() => {
      this.processing = null;
      // events that came while the last batch was being finished
      if (this.link.current(gen) && this.link.connected() && (this.pending.size || this.resyncWanted)) this.kick(gen);
    });
  }

  private onEvent(gen: number, ev: EngineEvent): void {
    if (!this.link.current(gen)) return;
    const c = classifyEvent(ev);
    if (!c) return;
    coalesce(this.pending, c);
    if (this.link.connected()) this.kick(gen);
  }

  private async process(gen: number): Promise<void> {
    const client = this.link.client();
    while (this.link.current(gen) && this.link.connected() && (this.resyncWanted || this.pending.size)) {
      try {
        if (this.resyncWanted) {
          this.resyncWanted = false;
          const changed = await this.relist(gen, client);
          if (changed) this.link.changed();
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
        if (!this.link.current(gen)) return;
        if (connErr) throw connErr;
        for (const { id, info } of results) {
          if (info) this.apply(info);
          else if (info === null) this.drop(id);
        }
        this.link.changed();
      } catch (err) {
        if (isConnectionError(err)) {
          this.link.lost(gen, err);
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
      if (containerGone(err)) return null;
      throw err;
    }
  }

  private fingerprint(): string {
    return [...this.infos.values()].map((i) => `${i.id}:${i.state}:${i.restartCount}:${i.healthcheck}:${i.name}`).sort().join('|');
  }

  private apply(info: ContainerInfo): void {
    this.infos.set(info.id, info);
    this.restarts.observe(info.id, info.restartCount, this.o.clock.now());
    if (isLive(info)) this.link.live(info.id);
    else this.link.idle(info.id);
  }

  private drop(id: string): void {
    this.infos.delete(id);
    this.restarts.forget(id);
    this.link.idle(id);
  }

  private timeout(): AbortSignal {
    return AbortSignal.timeout(this.o.requestTimeoutMs);
  }
}
