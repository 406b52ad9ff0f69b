/**
 * The live connection: socket.io over WebSocket first, SSE when the WebSocket cannot connect, and back to the
 * WebSocket later. Keeps the last envelope id seen, resumes from it on every reconnect (the server replays
 * what was missed), drops duplicates by id, and hands updates to the UI at most once per animation frame.
 *
 * With several nodes publishing resource_status (a hub and its agents), `latest` and the resource_status
 * listeners get the home node's snapshots only (nodes.ts); every node's latest is a snapshot of its own
 * (`getNodes`), so views of the home node do not re-render for the other nodes.
 *
 * Transports are injected (see transports.ts for the real ones), and so are time and frames, so the state
 * machine is tested without a network or a clock.
 */
import type { HealthResponse } from '../../../shared/api.ts';
import type { Envelope, EventType, ReplayGap, SocketAuth } from '../../../shared/events.ts';
import type { ResourceStatus } from '../../../shared/resources.ts';
import { isUnauthenticated } from '../lib/api.ts';
import { NodeStatuses, type NodesSnapshot, type StatusEnvelope } from './nodes.ts';

/** The latest envelope of each type (the payload types are the push contract's, shared/events.ts). */
export type LatestEnvelopes = { [K in EventType]?: Envelope<K> };
type EnvelopeListener<K extends EventType> = (envs: readonly Envelope<K>[]) => void;

/** One event type's envelopes of this frame and its listeners. */
interface Channel<K extends EventType> {
  pending: Envelope<K>[];
  listeners: Set<EnvelopeListener<K>>;
}

/** The channel of each type, made on first use (generic over the types, so each keeps its own payload type). */
function channels<T extends EventType>(): <K extends T>(type: K) => Channel<K> {
  const slots: { [P in T]?: Channel<P> } = {};
  return (type) => {
    const c = slots[type] ?? { pending: [], listeners: new Set() };
    slots[type] = c;
    return c;
  };
}

/** `latest` with the envelope of one type replaced (a new object: snapshots are immutable). */
function withLatest<T extends EventType, K extends T>(latest: { [P in T]?: Envelope<P> }, type: K, env: Envelope<K>): { [P in T]?: Envelope<P> } {
  const next = { ...latest };
  next[type] = env;
  return next;
}

export type TransportKind = 'websocket' | 'sse';

export type ConnectionState =
  /** an attempt is under way */
  | { kind: 'connecting'; transport: TransportKind }
  /** events are flowing over `transport` */
  | { kind: 'live'; transport: TransportKind }
  /** waiting until `retryAt` (epoch ms) before the next attempt */
  | { kind: 'reconnecting'; retryAt: number; attempt: number }
  /** the server answered 401: the user must open the URL printed at start-up */
  | { kind: 'unauthenticated' }
  | { kind: 'stopped' };

export interface LiveSnapshot {
  readonly state: ConnectionState;
  /** highest envelope id seen (0: none yet) */
  readonly lastEventId: number;
  /** latest envelope per type (resource_status: the home node's); a status fetched over REST has id 0 */
  readonly latest: LatestEnvelopes;
  /** how many replay gaps the server reported (events lost to this client) */
  readonly gaps: number;
  readonly lastGap: ReplayGap | null;
}

/** What the UI needs from a live source (LiveConnection, or a stand-in in tests). */
export interface LiveSource {
  subscribe(listener: () => void): () => void;
  getSnapshot(): LiveSnapshot;
  /** every node's latest resource_status and which node is home; notified at most once per frame, when it changed */
  subscribeNodes(listener: () => void): () => void;
  getNodes(): NodesSnapshot;
  /**
   * called once per frame with every new envelope of `type` since the last frame, oldest first (resource_status:
   * the home node's only)
   */
  onEnvelopes<K extends EventType>(type: K, listener: EnvelopeListener<K>): () => void;
  /** called when the server reports a replay gap (after the frame's envelopes) */
  onGap(listener: (gap: ReplayGap) => void): () => void;
  /** skip the countdown (or try again after a 401) */
  retryNow(): void;
}

export interface TransportHandlers {
  open(): void;
  envelope(env: unknown): void;
  gap(gap: ReplayGap): void;
  /** could not connect, or the connection was lost */
  fail(detail: string): void;
}
export interface TransportOptions {
  types: readonly EventType[];
  /** socket.io `auth` payload, read at every (re)connect */
  auth(): SocketAuth;
  /** where to resume (undefined: send the latest first) */
  lastEventId(): number | undefined;
}
export interface TransportHandle {
  close(): void;
}
export type TransportFactory = (opts: TransportOptions, handlers: TransportHandlers) => TransportHandle;

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

  private state: ConnectionState = { kind: 'connecting', transport: 'websocket' };
  private lastEventId = 0;
  private latest: LatestEnvelopes = {};
  private gaps = 0;
  private lastGap: ReplayGap | null = null;
  private snapshot: LiveSnapshot;

  private dirty = false;
  private frameScheduled = false;
  private readonly channel = channels<EventType>();
  /** types with envelopes waiting for this frame */
  private readonly pendingTypes = new Set<EventType>();
  private readonly pendingGaps: ReplayGap[] = [];
  private readonly subscribers = new Set<() => void>();
  private readonly nodes = new NodeStatuses();
  private readonly nodeSubscribers = new Set<() => void>();
  private homeCheck: Promise<void> | null = null;
  private readonly gapListeners = new Set<(gap: ReplayGap) => void>();

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
    this.snapshot = this.makeSnapshot();
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
    this.setState({ kind: 'stopped' });
  }

  retryNow(): void {
    if (!this.started) return;
    if (this.state.kind === 'unauthenticated') {
      // ask first (the user may have opened the token URL in another tab), so the notice does not flicker
      this.deps.fetchStatus().then(
        (status) => {
          if (!this.started || this.state.kind !== 'unauthenticated') return;
          this.seed(status);
          this.wsFailStreak = 0;
          this.failStreak = 0;
          this.attempt('websocket');
        },
        () => undefined,
      );
    } else if (this.state.kind === 'reconnecting') {
      this.attempt(this.nextKind());
    }
  }

  subscribe = (listener: () => void): (() => void) => {
    this.subscribers.add(listener);
    return () => this.subscribers.delete(listener);
  };

  getSnapshot = (): LiveSnapshot => this.snapshot;

  subscribeNodes = (listener: () => void): (() => void) => {
    this.nodeSubscribers.add(listener);
    return () => this.nodeSubscribers.delete(listener);
  };

  getNodes = (): NodesSnapshot => this.nodes.snapshot;

  onEnvelopes<K extends EventType>(type: K, listener: EnvelopeListener<K>): () => void {
    const { listeners } = this.channel(type);
    listeners.add(listener);
    return () => listeners.delete(listener);
  }

  onGap(listener: (gap: ReplayGap) => void): () => void {
    this.gapListeners.add(listener);
    return () => this.gapListeners.delete(listener);
  }

  /** Use a status fetched over REST until (or unless) a newer one of its node arrives live. */
  seed(status: ResourceStatus): void {
    const cur = this.nodes.latestOf(status.node);
    if (cur && cur.data.sampledAt >= status.sampledAt) return;
    this.keepStatus({ id: 0, type: 'resource_status', ts: status.sampledAt, data: status });
  }

  // ---- attempts ---------------------------------------------------------------------------------------------

  private attempt(kind: TransportKind): void {
    this.clearTimer('retry');
    this.closeAttempt(this.active);
    this.closeAttempt(this.probe);
    this.probe = null;
    const a: Attempt = { kind, handle: null, open: false, closed: false };
    this.active = a;
    this.setState({ kind: 'connecting', transport: kind });
    this.openTransport(a);
  }

  private openTransport(a: Attempt): void {
    const factory = a.kind === 'websocket' ? this.deps.websocket : this.deps.sse;
    const handle = factory(this.transportOptions(), {
      open: () => this.onOpen(a),
      envelope: (env) => {
        if (this.isCurrent(a)) this.receive(env);
      },
      gap: (gap) => {
        if (this.isCurrent(a)) this.receiveGap(gap);
      },
      fail: (detail) => this.onFail(a, detail),
    });
    if (a.closed) handle.close();
    else a.handle = handle;
  }

  private transportOptions(): TransportOptions {
    const last = () => (this.lastEventId > 0 ? this.lastEventId : undefined);
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
    this.setState({ kind: 'live', transport: a.kind });
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
    this.setState({ kind: 'reconnecting', retryAt, attempt: this.failStreak });
    this.retryTimer = this.deps.setTimeout(() => {
      this.retryTimer = null;
      if (this.started && this.state.kind === 'reconnecting') this.attempt(this.nextKind());
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
    if (this.nodes.homeConfirmed || this.homeCheck) return;
    this.homeCheck = this.deps
      .fetchHealth()
      .then(
        (health) => {
          if (this.started && health.node !== undefined) this.setHome(health.node);
        },
        () => undefined, // asked again after the next failure; meanwhile the first snapshot's node stands in
      )
      .finally(() => {
        this.homeCheck = null;
      });
  }

  /**
   * The server said which node it is. When the first snapshot was another node's, `latest` takes the home node's
   * (or none yet); envelopes already handed to listeners are not taken back.
   */
  private setHome(node: string): void {
    const switched = this.nodes.confirmHome(node);
    if (switched !== undefined) {
      const next = { ...this.latest };
      if (switched) next.resource_status = switched;
      else delete next.resource_status;
      this.latest = next;
      this.dirty = true;
    }
    this.scheduleFrame();
  }

  private enterUnauthenticated(): void {
    this.closeAttempt(this.active);
    this.closeAttempt(this.probe);
    this.active = this.probe = null;
    this.clearTimers();
    this.setState({ kind: 'unauthenticated' });
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

  // ---- events -----------------------------------------------------------------------------------------------

  /**
   * What a transport hands over is JSON from the server: its shape is checked (id, one of our types, data); the
   * payload is trusted to be of its type (the server publishes only what the contract's schemas describe).
   */
  private isEnvelope(x: unknown): x is Envelope {
    if (typeof x !== 'object' || x === null || !('id' in x) || !('type' in x) || !('data' in x)) return false;
    const { id, type } = x;
    return typeof id === 'number' && Number.isInteger(id) && id > 0 && this.types.some((t) => t === type);
  }

  private receive(raw: unknown): void {
    if (!this.isEnvelope(raw)) {
      this.log('ignored a malformed envelope');
      return;
    }
    if (raw.id <= this.lastEventId) return; // duplicate (replay overlap, transport switch)
    this.lastEventId = raw.id;
    if (raw.type === 'resource_status') this.keepStatus(raw);
    else this.keep(raw.type, raw);
  }

  /** Every node's snapshot is kept for getNodes; the home node's also as `latest` and for the listeners. */
  private keepStatus(env: StatusEnvelope): void {
    if (this.nodes.put(env)) this.keep('resource_status', env);
    else this.scheduleFrame();
  }

  /** The newest envelope of its type, queued for this frame's listeners. */
  private keep<K extends EventType>(type: K, env: Envelope<K>): void {
    this.latest = withLatest(this.latest, type, env);
    const { pending } = this.channel(type);
    this.pendingTypes.add(type);
    pending.push(env);
    if (pending.length > this.opts.maxPendingPerType) pending.splice(0, pending.length - this.opts.maxPendingPerType);
    this.markDirty();
  }

  private receiveGap(gap: ReplayGap): void {
    this.gaps++;
    this.lastGap = gap;
    if (gap.reason === 'ahead_of_server') {
      // the server's ids are behind ours (its store was reset): accept what it sends from now on
      this.lastEventId = Math.max(0, (gap.oldestId ?? 1) - 1);
    }
    this.pendingGaps.push(gap);
    this.markDirty();
  }

  private setState(state: ConnectionState): void {
    this.state = state;
    this.markDirty();
  }

  private markDirty(): void {
    this.dirty = true;
    this.scheduleFrame();
  }

  private scheduleFrame(): void {
    if (this.frameScheduled) return;
    this.frameScheduled = true;
    this.deps.requestFrame(() => this.flush());
  }

  /** One frame's worth of updates: envelope listeners, gap listeners, then React subscribers, once. */
  private flush(): void {
    this.frameScheduled = false;
    for (const type of this.pendingTypes) this.deliver(type);
    this.pendingTypes.clear();
    const gaps = this.pendingGaps.splice(0);
    for (const gap of gaps) for (const l of this.gapListeners) this.safely(() => l(gap));
    if (this.nodes.refresh()) for (const s of this.nodeSubscribers) this.safely(s);
    if (!this.dirty) return;
    this.dirty = false;
    this.snapshot = this.makeSnapshot();
    for (const s of this.subscribers) this.safely(s);
  }

  private deliver<K extends EventType>(type: K): void {
    const c = this.channel(type);
    const envs = c.pending.splice(0);
    if (envs.length === 0) return;
    for (const l of c.listeners) this.safely(() => l(envs));
  }

  private makeSnapshot(): LiveSnapshot {
    return {
      state: this.state,
      lastEventId: this.lastEventId,
      latest: this.latest,
      gaps: this.gaps,
      lastGap: this.lastGap,
    };
  }

  private safely(fn: () => void): void {
    try {
      fn();
    } catch (err) {
      console.error(err);
    }
  }

  private log(msg: string): void {
    this.deps.log?.(`[live] ${msg}`);
  }
}

/** requestAnimationFrame, with a timer fallback for hidden tabs (where frames do not run). */
export function requestFrame(fn: () => void): void {
  if (typeof requestAnimationFrame !== 'function') {
    setTimeout(fn, 16);
    return;
  }
  let done = false;
  const run = () => {
    if (done) return;
    done = true;
    cancelAnimationFrame(raf);
    clearTimeout(timer);
    fn();
  };
  const raf = requestAnimationFrame(run);
  const timer = setTimeout(run, 500);
}
