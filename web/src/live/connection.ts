/**
 * The live connection: socket.io over WebSocket first, SSE when the WebSocket cannot connect, and back to the
 * WebSocket later. Resumes from the last envelope id seen on every reconnect (the server replays what was
 * missed); what arrives goes to the feed (feed.ts), which drops duplicates by id and hands updates to the UI at
 * most once per animation frame.
 *
 * With several nodes publishing resource_status (a hub and its agents), `latest` and the resource_status
 * listeners get the home node's snapshots only (nodes.ts); every node's latest is a snapshot of its own
 * (`getNodes`), so views of the home node do not re-render for the other nodes.
 *
 * Transports are injected (see transports.ts for the real ones), and so are time and frames, so the state
 * machine is tested without a network or a clock.
 */
import type { HealthResponse } from '../../../shared/api.ts';
import type { EventType, ReplayGap } from '../../../shared/events.ts';
import type { ResourceStatus } from '../../../shared/resources.ts';
import { isUnauthenticated } from '../lib/api.ts';
import { LiveFeed } from './feed.ts';
import type { NodesSnapshot } from './nodes.ts';
import type {
  ConnectionState,
  EnvelopeListener,
  LiveSnapshot,
  LiveSource,
  TransportFactory,
  TransportHandle,
  TransportKind,
  TransportOptions,
} from './source.ts';

export interface ConnectionDeps {
  websocket: TransportFactory;
  sse: TransportFactory;
  /** GET /api/status: seeds the first paint and tells a 401 from a network failure */
  fetchStatus(): Promise<ResourceStatus>;
  /** GET /api/health: the node this server is (with the token: the cookie), whose snapshots the home views show */
  fetchHealth(): Promise<Pick<HealthResponse, 'node'>>;
  now(): number;
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
  /** run `fn` once, at the next animation frame (or soon, when frames do not run, e.g. in a hidden tab) */
  requestFrame(fn: () => void): void;
  random(): number;
  log?(msg: string): void;
}

export interface ConnectionOptions {
  /** event types to receive; default resource_status */
  types?: readonly EventType[];
  /** failed WebSocket attempts in a row before trying SSE; default 2 */
  wsFailuresBeforeSse?: number;
  /** reconnect backoff: base · 2^(n−1), capped, ±20 % jitter; defaults 1000 / 30000 ms */
  backoffBaseMs?: number;
  backoffMaxMs?: number;
  /** first wait before trying the WebSocket again while on SSE (doubles up to the max); default 15 s / 5 min */
  wsProbeMs?: number;
  wsProbeMaxMs?: number;
  /** envelopes kept per type between two frames; default 1000 */
  maxPendingPerType?: number;
}

interface Attempt {
  kind: TransportKind;
  handle: TransportHandle | null;
  open: boolean;
  closed: boolean;
}

const DEFAULTS = {
  wsFailuresBeforeSse: 2,
  backoffBaseMs: 1000,
  backoffMaxMs: 30_000,
  wsProbeMs: 15_000,
  wsProbeMaxMs: 300_000,
  maxPendingPerType: 1000,
};


export class LiveConnection implements LiveSource {
  private readonly opts: typeof DEFAULTS;
  private readonly types: readonly EventType[];
  private readonly feed: LiveFeed;
  private homeCheck: Promise<void> | null = null;

  private started = false;
  private active: Attempt | null = null;
  /** a WebSocket attempt made while SSE is live; it replaces SSE when it opens */
  private probe: Attempt | null = null;
  private retryTimer: unknown = null;
  private probeTimer: unknown = null;
  private wsFailStreak = 0;
  private failStreak = 0;
  private probeDelay: number;
  private authCheck: Promise<void> | null = null;

  constructor(
    private readonly deps: ConnectionDeps,
    options: ConnectionOptions = {},
  ) {
    const { types, ...rest } = options;
    this.opts = { ...DEFAULTS, ...Object.fromEntries(Object.entries(rest).filter(([, v]) => v !== undefined)) };
    if (this.opts.wsFailuresBeforeSse < 1) {
      throw new Error(`wsFailuresBeforeSse must be at least 1, got ${this.opts.wsFailuresBeforeSse}`);
    }
    if (this.opts.backoffMaxMs < this.opts.backoffBaseMs) {
      throw new Error(
        `backoffMaxMs (${this.opts.backoffMaxMs}) must not be less than backoffBaseMs (${this.opts.backoffBaseMs})`,
      );
    }
    this.types = types && types.length > 0 ? [...types] : ['resource_status'];
    this.probeDelay = this.opts.wsProbeMs;
    this.feed = new LiveFeed(this.types, this.opts.maxPendingPerType, {
      requestFrame: (fn) => deps.requestFrame(fn),
      log: (msg) => this.log(msg),
    });
  }

  // ---- public API -------------------------------------------------------------------------------------------

  start(): void {
    if (this.started) return;
    this.started = true;
    this.attempt('websocket');
    this.learnHome();
    this.checkAuth();
  }

  stop(): void {
    this.started = false;
    this.closeAttempt(this.active);
    this.closeAttempt(this.probe);
    this.active = this.probe = null;
    this.clearTimers();
    this.feed.setState({ kind: 'stopped' });
  }

  retryNow(): void {
    if (!this.started) return;
    const { kind } = this.feed.state;
    if (kind === 'unauthenticated') {
      // ask first (the user may have opened the token URL in another tab), so the notice does not flicker
      this.deps.fetchStatus().then(
        (status) => {
          if (!this.started || this.feed.state.kind !== 'unauthenticated') return;
          this.seed(status);
          this.wsFailStreak = 0;
          this.failStreak = 0;
          this.attempt('websocket');
        },
        () => undefined,
      );
    } else if (kind === 'reconnecting') {
      this.attempt(this.nextKind());
    }
  }

  subscribe = (listener: () => void): (() => void) => this.feed.subscribe(listener);

  getSnapshot = (): LiveSnapshot => this.feed.getSnapshot();

  subscribeNodes = (listener: () => void): (() => void) => this.feed.subscribeNodes(listener);

  getNodes = (): NodesSnapshot => this.feed.getNodes();

  onEnvelopes<K extends EventType>(type: K, listener: EnvelopeListener<K>): () => void {
    return this.feed.onEnvelopes(type, listener);
  }

  onGap(listener: (gap: ReplayGap) => void): () => void {
    return this.feed.onGap(listener);
  }

  /** Use a status fetched over REST until (or unless) a newer one of its node arrives live. */
  seed(status: ResourceStatus): void {
    this.feed.seed(status);
  }

  // ---- attempts ---------------------------------------------------------------------------------------------

  private attempt(kind: TransportKind): void {
    this.clearTimer('retry');
    this.closeAttempt(this.active);
    this.closeAttempt(this.probe);
    this.probe = null;
    const a: Attempt = { kind, handle: null, open: false, closed: false };
    this.active = a;
    this.feed.setState({ kind: 'connecting', transport: kind });
    this.openTransport(a);
  }

  private openTransport(a: Attempt): void {
    const factory = a.kind === 'websocket' ? this.deps.websocket : this.deps.sse;
    const handle = factory(this.transportOptions(), {
      open: () => this.onOpen(a),
      envelope: (env) => {
        if (this.isCurrent(a)) this.feed.receive(env);
      },
      gap: (gap) => {
        if (this.isCurrent(a)) this.feed.receiveGap(gap);
      },
      fail: (detail) => this.onFail(a, detail),
    });
    if (a.closed) handle.close();
    else a.handle = handle;
  }

  private transportOptions(): TransportOptions {
    const last = () => (this.feed.lastEventId > 0 ? this.feed.lastEventId : undefined);
    return {
      types: this.types,
      lastEventId: last,
      auth: () => {
        const id = last();
        return id === undefined ? { types: [...this.types] } : { types: [...this.types], lastEventId: id };
      },
    };
  }

  private isCurrent(a: Attempt): boolean {
    return !a.closed && (a === this.active || a === this.probe);
  }

  private onOpen(a: Attempt): void {
    if (!this.isCurrent(a)) return;
    if (a === this.probe) {
      // the WebSocket is back while on SSE: switch; the socket resumed from our last id, duplicates are dropped
      this.closeAttempt(this.active);
      this.active = a;
      this.probe = null;
    }
    a.open = true;
    this.failStreak = 0;
    if (a.kind === 'websocket') {
      this.wsFailStreak = 0;
      this.probeDelay = this.opts.wsProbeMs;
      this.clearTimer('probe');
    } else {
      this.scheduleWsProbe();
    }
    this.log(`live over ${a.kind}`);
    this.feed.setState({ kind: 'live', transport: a.kind });
  }

  private onFail(a: Attempt, detail: string): void {
    if (!this.isCurrent(a)) return;
    this.log(`${a.kind} ${a.open ? 'lost' : 'failed'}: ${detail}`);
    if (a === this.probe) {
      this.closeAttempt(a);
      this.probe = null;
      this.probeDelay = Math.min(this.probeDelay * 2, this.opts.wsProbeMaxMs);
      this.scheduleWsProbe();
      return;
    }
    const wasOpen = a.open;
    this.closeAttempt(a);
    this.active = null;
    if (a.kind === 'websocket') {
      // a drop after being live does not count against the WebSocket; a failed connect does
      this.wsFailStreak = wasOpen ? 0 : this.wsFailStreak + 1;
    } else {
      this.clearTimer('probe');
      // next round: one WebSocket attempt, then SSE again
      this.wsFailStreak = this.opts.wsFailuresBeforeSse - 1;
    }
    this.checkAuth();
    if (a.kind === 'websocket' && !wasOpen && this.wsFailStreak >= this.opts.wsFailuresBeforeSse) {
      this.attempt('sse');
      return;
    }
    this.failStreak++;
    const delay = wasOpen && this.failStreak === 1 ? this.jitter(500) : this.backoff(this.failStreak);
    this.scheduleRetry(delay);
  }

  private nextKind(): TransportKind {
    return this.wsFailStreak >= this.opts.wsFailuresBeforeSse ? 'sse' : 'websocket';
  }

  private scheduleRetry(delay: number): void {
    this.clearTimer('retry');
    const retryAt = this.deps.now() + delay;
    this.feed.setState({ kind: 'reconnecting', retryAt, attempt: this.failStreak });
    this.retryTimer = this.deps.setTimeout(() => {
      this.retryTimer = null;
      if (this.started && this.feed.state.kind === 'reconnecting') this.attempt(this.nextKind());
    }, delay);
  }

  private scheduleWsProbe(): void {
    this.clearTimer('probe');
    this.probeTimer = this.deps.setTimeout(() => {
      this.probeTimer = null;
      const a = this.active;
      if (!this.started || !a || a.kind !== 'sse' || !a.open || this.probe) return;
      const p: Attempt = { kind: 'websocket', handle: null, open: false, closed: false };
      this.probe = p;
      this.openTransport(p);
    }, this.probeDelay);
  }

  private backoff(n: number): number {
    const raw = this.opts.backoffBaseMs * 2 ** Math.max(0, n - 1);
    return this.jitter(Math.min(raw, this.opts.backoffMaxMs));
  }

  private jitter(ms: number): number {
    return Math.round(ms * (0.8 + 0.4 * this.deps.random()));
  }

  /** After a failure: is it a 401? Also refreshes the status over REST, so a page behind a broken push still shows data. */
  private checkAuth(): void {
    this.learnHome();
    if (this.authCheck) return;
    this.authCheck = this.deps
      .fetchStatus()
      .then(
        (status) => {
          if (this.started) this.seed(status);
        },
        (err: unknown) => {
          if (this.started && isUnauthenticated(err)) this.enterUnauthenticated();
        },
      )
      .finally(() => {
        this.authCheck = null;
      });
  }

  /** Ask the server which node it is, until it has answered once (again after each failure). */
  private learnHome(): void {
    if (this.feed.homeConfirmed || this.homeCheck) return;
    this.homeCheck = this.deps
      .fetchHealth()
      .then(
        (health) => {
          if (this.started && health.node !== undefined) this.feed.setHome(health.node);
        },
        () => undefined, // asked again after the next failure; meanwhile the first snapshot's node stands in
      )
      .finally(() => {
        this.homeCheck = null;
      });
  }

  private enterUnauthenticated(): void {
    this.closeAttempt(this.active);
    this.closeAttempt(this.probe);
    this.active = this.probe = null;
    this.clearTimers();
    this.feed.setState({ kind: 'unauthenticated' });
  }

  private closeAttempt(a: Attempt | null): void {
    if (!a || a.closed) return;
    a.closed = true;
    try {
      a.handle?.close();
    } catch (err) {
      this.log(`closing ${a.kind}: ${String(err)}`);
    }
  }

  private clearTimer(which: 'retry' | 'probe'): void {
    if (which === 'retry' && this.retryTimer !== null) {
      this.deps.clearTimeout(this.retryTimer);
      this.retryTimer = null;
    }
    if (which === 'probe' && this.probeTimer !== null) {
      this.deps.clearTimeout(this.probeTimer);
      this.probeTimer = null;
    }
  }

  private clearTimers(): void {
    this.clearTimer('retry');
    this.clearTimer('probe');
  }

  private log(msg: string): void {
    this.deps.log?.(`[live] ${msg}`);
  }
}
