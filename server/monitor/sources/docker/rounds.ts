/**
 * The figures of the running containers, refreshed once a sample. One-shot mode asks every running container at
 * once, all requests under one deadline; stream mode reads the latest frame of each container's long stats stream
 * (opened as the container starts). Either way each new reading goes through the tracker, which makes rates from
 * the difference with the container's previous reading; a container that stops or goes loses its figures.
 */
import { setMaxListeners } from 'node:events';
import type { Readable } from 'node:stream';
import type { EngineApi } from './api.ts';
import { isConnectionError } from './connection.ts';
import { parseStatsBody, readingOf, StatsTracker, type ContainerStats } from './stats.ts';
import { StatsStreams } from './streams.ts';

export interface StatsRoundsOptions {
  now: () => number;
  /** bound on the requests of a one-shot round, ms */
  timeoutMs: number;
  /** open a container's stats stream (stream mode) */
  openStream: (id: string) => Promise<Readable>;
}

export class StatsRounds {
  private readonly figures = new Map<string, ContainerStats>();
  private readonly tracker = new StatsTracker();
  private readonly streams: StatsStreams;

  constructor(private readonly o: StatsRoundsOptions) {
    this.streams = new StatsStreams(o.openStream, o.now);
  }

  /** The figures of a container's last reading. */
  of(id: string): ContainerStats | undefined {
    return this.figures.get(id);
  }

  /** Stream mode: keep a stream open for a running container. */
  follow(id: string): void {
    this.streams.ensure(id);
  }

  /** A container stopped or went: drop its figures, its last reading and its stream. */
  forget(id: string): void {
    this.figures.delete(id);
    this.tracker.forget(id);
    this.streams.close(id);
  }

  /** Close every stream (the connection is gone); the figures stay until the containers are seen again. */
  closeStreams(): void {
    this.streams.closeAll();
  }

  /**
   * One-shot mode: ask every container of `ids` at once, each request bounded. Returns the first connection error
   * (the engine is gone), or null; throws when every request failed for another reason. Readings that arrive once
   * `current()` is false (the connection was replaced) are dropped.
   */
  async oneShot(client: EngineApi, ids: string[], oneShot: boolean, current: () => boolean): Promise<unknown> {
    let connErr: unknown = null;
    let failed = 0;
    let firstErr: unknown = null;
    // one deadline for the round (the requests start together): one timer instead of one per container
    const deadline = new AbortController();
    setMaxListeners(ids.length * 3 + 10, deadline.signal); // dockerode adds two listeners per request
    const timer = setTimeout(() => deadline.abort(new Error(`stats request timed out after ${this.o.timeoutMs} ms`)), this.o.timeoutMs);
    await Promise.all(
      ids.map(async (id) => {
        try {
          const body = await client.statsOnce(id, oneShot, deadline.signal);
          if (!current()) return;
          const parsed = parseStatsBody(body);
          if (!parsed) {
            // stopped between the list and the request: HTTP 200 with an empty body
            this.figures.delete(id);
            return;
          }
          this.figures.set(id, this.tracker.update(id, readingOf(parsed, this.o.now())));
        } catch (err) {
          failed++;
          firstErr ??= err;
          if (isConnectionError(err)) connErr ??= err;
          // 404: removed meanwhile (its event follows); a timeout keeps the last figures this once
        }
      }),
    ).finally(() => clearTimeout(timer));
    if (connErr) return connErr;
    if (ids.length > 0 && failed === ids.length) {
      const msg = firstErr instanceof Error ? firstErr.message : String(firstErr);
      throw new Error(`container stats failed for all ${ids.length} running containers: ${msg}`);
    }
    return null;
  }

  /** Stream mode: use each container's latest frame (a stream that ended is opened again). */
  readStreams(ids: string[]): void {
    for (const id of ids) {
      this.streams.ensure(id);
      const r = this.streams.latest(id);
      if (r) this.figures.set(id, this.tracker.update(id, r));
    }
  }
}
