/**
 * The REST half of a store that pushed events keep current: subscribe first, then read over REST once the push is
 * live, then apply on top what arrived meanwhile — and read again after a replay gap (events were lost). A failed
 * read is tried again with a doubling delay (up to a minute); a 401 is the connection's to report, and the read
 * follows once it is live again. By default it reads only while a view watches; a store that is always shown
 * (`onlyWatched: false`) reads from the start. Framework-free, time injected.
 */
import type { LiveSource } from '../live/source.ts';
import { errorMessage, isUnauthenticated } from './api.ts';
import type { Timers } from './timers.ts';

export interface BackfillSpec<A, I> {
  /** the REST reads */
  read(): Promise<A>;
  /** The answer in place of what the store held; throws when it is not understood (before changing anything). */
  take(answer: A): void;
  /** an item that arrived while the answer was on its way, applied again on top of it */
  replay(item: I): void;
  /** a read begins: reads it makes moot are dropped */
  begin?(): void;
  /** after a read, its answer and the replay applied (and `changed` called) */
  done?(replayed: readonly I[]): void;
  /** the first view began watching */
  watched?(): void;
  /** the last view stopped watching */
  unwatched?(): void;
  /** ready, loading or error changed: build a new snapshot */
  changed(): void;
}

export interface BackfillOptions {
  /** first retry of a failed read (doubles up to a minute); default 2 s */
  retryMs?: number;
  /** read only while watched; default true */
  onlyWatched?: boolean;
}

export class Backfill<A, I> {
  /** a read has arrived at least once (and no gap has been seen unwatched since) */
  ready = false;
  loading = false;
  /** the last read failed with this */
  error: string | null = null;

  private readonly retryMs: number;
  private readonly onlyWatched: boolean;
  private started = false;
  private watchers = 0;
  private generation = 0;
  /** items that arrived while a read was under way, applied again on top of its answer */
  private buffer: I[] | null = null;
  private retryTimer: unknown = null;
  private failures = 0;
  private offs: (() => void)[] = [];

  constructor(
    private readonly source: LiveSource,
    private readonly timers: Timers,
    private readonly spec: BackfillSpec<A, I>,
    opts: BackfillOptions = {},
  ) {
    this.retryMs = opts.retryMs ?? 2000;
    this.onlyWatched = opts.onlyWatched ?? true;
  }

  get watched(): boolean {
    return this.watchers > 0;
  }

  /** Follow the connection and its gaps (the store listens to its own event types before). */
  start(): void {
    if (this.started) return;
    this.started = true;
    this.offs = [this.source.onGap(() => this.onGap()), this.source.subscribe(() => this.onConnection())];
    // a view may watch before the store starts (React runs a child's effects before its parent's)
    this.onConnection();
  }

  stop(): void {
    if (!this.started) return;
    this.started = false;
    for (const off of this.offs.splice(0)) off();
    this.generation++;
    this.buffer = null;
    this.loading = false;
    this.clearRetry();
  }

  /** A view shows the store: read when needed. Returns the release (once). */
  watch(): () => void {
    this.watchers++;
    if (this.watchers === 1) {
      this.onConnection();
      this.spec.watched?.();
    }
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.watchers--;
      if (this.watchers === 0) this.spec.unwatched?.();
    };
  }

  /** Items the store has just applied: kept to be applied again if a read is under way. */
  note(items: readonly I[]): void {
    this.buffer?.push(...items);
  }

  /** Read everything again (after an error, or when asked). */
  refresh(): void {
    if (this.started) this.read();
  }

  private mayRead(): boolean {
    return this.started && (!this.onlyWatched || this.watchers > 0);
  }

  /** Read once the push is live: events from then on reach the store, so REST plus what arrives meanwhile is whole. */
  private onConnection(): void {
    if (!this.mayRead()) return;
    const state = this.source.getSnapshot().state;
    if (state.kind === 'live' && !this.ready && !this.loading && this.retryTimer === null) this.read();
  }

  private onGap(): void {
    // events were lost: what the store holds may be wrong until read again
    if (this.mayRead()) {
      this.read();
      return;
    }
    this.generation++;
    this.buffer = null;
    this.loading = false;
    this.ready = false;
    this.spec.changed();
  }

  private read(): void {
    const gen = ++this.generation;
    this.clearRetry();
    this.spec.begin?.();
    this.buffer = [];
    this.loading = true;
    this.spec.changed();
    this.spec.read().then(
      (answer) => {
        if (gen !== this.generation || !this.started) return;
        try {
          this.spec.take(answer);
        } catch (err) {
          this.fail(err);
          return;
        }
        const buffered = this.buffer ?? [];
        this.buffer = null;
        for (const item of buffered) this.spec.replay(item);
        this.ready = true;
        this.loading = false;
        this.error = null;
        this.failures = 0;
        this.spec.changed();
        this.spec.done?.(buffered);
      },
      (err: unknown) => {
        if (gen === this.generation && this.started) this.fail(err);
      },
    );
  }

  private fail(err: unknown): void {
    this.buffer = null;
    this.loading = false;
    this.error = errorMessage(err);
    this.failures++;
    // a 401 is the connection's to report; the read follows once it is live again
    if (!isUnauthenticated(err)) {
      const delay = Math.min(60_000, this.retryMs * 2 ** (this.failures - 1));
      this.retryTimer = this.timers.setTimeout(() => {
        this.retryTimer = null;
        if (this.mayRead()) this.read();
      }, delay);
    }
    this.spec.changed();
  }

  private clearRetry(): void {
    if (this.retryTimer !== null) {
      this.timers.clearTimeout(this.retryTimer);
      this.retryTimer = null;
    }
  }
}
