/**
 * What arrives over the live connection, handed to the UI: envelopes checked and deduplicated by id, the latest
 * of each type, every node's resource_status (nodes.ts), replay gaps, and the connection's state — delivered at
 * most once per animation frame: each type's new envelopes to its listeners, gaps to theirs, then one new
 * snapshot to React's subscribers. Which transport carries the envelopes is connection.ts's business.
 */
import type { Envelope, EventType, ReplayGap } from '../../../shared/events.ts';
import type { ResourceStatus } from '../../../shared/resources.ts';
import { NodeStatuses, type NodesSnapshot, type StatusEnvelope } from './nodes.ts';
import type { ConnectionState, EnvelopeListener, LatestEnvelopes, LiveSnapshot } from './source.ts';

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


export interface FeedDeps {
  /** run `fn` once, at the next animation frame */
  requestFrame(fn: () => void): void;
  log(msg: string): void;
}

export class LiveFeed {
  private currentState: ConnectionState = { kind: 'connecting', transport: 'websocket' };
  private lastId = 0;
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
  private readonly gapListeners = new Set<(gap: ReplayGap) => void>();

  constructor(
    /** the types asked for: an envelope of another type is dropped as malformed */
    private readonly types: readonly EventType[],
    /** envelopes kept per type between two frames (the oldest dropped beyond) */
    private readonly maxPendingPerType: number,
    private readonly deps: FeedDeps,
  ) {
    this.snapshot = this.makeSnapshot();
  }

  get state(): ConnectionState {
    return this.currentState;
  }

  /** highest envelope id seen (0: none yet): where a transport resumes */
  get lastEventId(): number {
    return this.lastId;
  }

  /** whether the server has said which node it is */
  get homeConfirmed(): boolean {
    return this.nodes.homeConfirmed;
  }

  // ---- what the UI reads (LiveSource) --------------------------------------------------------------------

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

  // ---- what the connection hands over ---------------------------------------------------------------------

  setState(state: ConnectionState): void {
    this.currentState = state;
    this.markDirty();
  }

  /** Use a status fetched over REST until (or unless) a newer one of its node arrives live. */
  seed(status: ResourceStatus): void {
    const cur = this.nodes.latestOf(status.node);
    if (cur && cur.data.sampledAt >= status.sampledAt) return;
    this.keepStatus({ id: 0, type: 'resource_status', ts: status.sampledAt, data: status });
  }

  receive(raw: unknown): void {
    if (!this.isEnvelope(raw)) {
      this.deps.log('ignored a malformed envelope');
      return;
    }
    if (raw.id <= this.lastId) return; // duplicate (replay overlap, transport switch)
    this.lastId = raw.id;
    if (raw.type === 'resource_status') this.keepStatus(raw);
    else this.keep(raw.type, raw);
  }

  receiveGap(gap: ReplayGap): void {
    this.gaps++;
    this.lastGap = gap;
    if (gap.reason === 'ahead_of_server') {
      // the server's ids are behind ours (its store was reset): accept what it sends from now on
      this.lastId = Math.max(0, (gap.oldestId ?? 1) - 1);
    }
    this.pendingGaps.push(gap);
    this.markDirty();
  }

  /**
   * The server said which node it is. When the first snapshot was another node's, `latest` takes the home node's
   * (or none yet); envelopes already handed to listeners are not taken back.
   */
  setHome(node: string): void {
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

  // ---- inside ------------------------------------------------------------------------------------------------

  /**
   * What a transport hands over is JSON from the server: its shape is checked (id, one of our types, data); the
   * payload is trusted to be of its type (the server publishes only what the contract's schemas describe).
   */
  private isEnvelope(x: unknown): x is Envelope {
    if (typeof x !== 'object' || x === null || !('id' in x) || !('type' in x) || !('data' in x)) return false;
    const { id, type } = x;
    return typeof id === 'number' && Number.isInteger(id) && id > 0 && this.types.some((t) => t === type);
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
    if (pending.length > this.maxPendingPerType) pending.splice(0, pending.length - this.maxPendingPerType);
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
    for (const gap of gaps) for (const l of this.gapListeners) safely(() => l(gap));
    if (this.nodes.refresh()) for (const s of this.nodeSubscribers) safely(s);
    if (!this.dirty) return;
    this.dirty = false;
    this.snapshot = this.makeSnapshot();
    for (const s of this.subscribers) safely(s);
  }

  private deliver<K extends EventType>(type: K): void {
    const c = this.channel(type);
    const envs = c.pending.splice(0);
    if (envs.length === 0) return;
    for (const l of c.listeners) safely(() => l(envs));
  }

  private makeSnapshot(): LiveSnapshot {
    return {
      state: this.currentState,
      lastEventId: this.lastId,
      latest: this.latest,
      gaps: this.gaps,
      lastGap: this.lastGap,
    };
  }
}

/** A listener that throws does not stop the others. */
function safely(fn: () => void): void {
  try {
    fn();
  } catch (err) {
    console.error(err);
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
